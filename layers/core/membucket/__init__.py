"""membucket: one memory for every LLM client, kept in an S3-compatible bucket.

The names below load on first use (PEP 562), so ``membucket --version`` and ``--help`` do not
pay for boto3, DuckDB and pydantic-settings before they print anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .version import __version__

if TYPE_CHECKING:
    from .client import Membucket
    from .errors import MembucketError
    from .settings import Settings

__all__ = ["Membucket", "MembucketError", "Settings", "__version__"]

_LAZY = {"Membucket": "client", "MembucketError": "errors", "Settings": "settings"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
