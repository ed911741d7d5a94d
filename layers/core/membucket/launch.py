"""The ``membucket`` command's entry point: ``--version`` answers before anything heavy loads.

Importing ``membucket.cli`` loads every command and, through them, boto3, DuckDB and pydantic
(about a second); the version alone needs none of it.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from .version import __version__

        print(f"membucket, version {__version__}")
        return
    from .cli import main as cli_main

    cli_main()
