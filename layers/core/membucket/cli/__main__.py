"""``python -m membucket.cli``: the same as the ``membucket`` command."""

from . import main

main()
