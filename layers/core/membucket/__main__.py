"""``python -m membucket``: the same as the ``membucket`` command."""

from .launch import main

main()
