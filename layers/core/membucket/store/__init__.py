"""The object-store seam: ``ObjectStore`` and its backends (local directory, S3, memory).

    from membucket.store import open_store, IF_ABSENT, PreconditionFailed

    store = open_store("s3://my-bucket/membucket")      # or "./data", or "memory://test"
    try:
        store.put("ns/u1/log/00000000000000000001.json", b"{}", IF_ABSENT)
    except PreconditionFailed:
        ...  # another writer took that number

``S3Store`` loads boto3 (~0.3 s), so it is imported on first use: a directory store never pays it.
"""

from typing import TYPE_CHECKING

from .base import IF_ABSENT, GetResult, ObjectInfo, ObjectStore, PutCondition, validate_key, validate_prefix
from .errors import ConflictInFlight, InvalidKey, Misconfigured, NotFound, NotModified, PreconditionFailed, StoreError, Unavailable
from .local import LocalStore
from .memory import MemoryStore
from .url import open_store

if TYPE_CHECKING:
    from .s3 import S3Store

__all__ = [
    "ObjectStore",
    "PutCondition",
    "IF_ABSENT",
    "ObjectInfo",
    "GetResult",
    "validate_key",
    "validate_prefix",
    "StoreError",
    "NotFound",
    "NotModified",
    "PreconditionFailed",
    "ConflictInFlight",
    "Unavailable",
    "InvalidKey",
    "Misconfigured",
    "LocalStore",
    "S3Store",
    "MemoryStore",
    "open_store",
]


def __getattr__(name: str) -> object:
    if name == "S3Store":
        from .s3 import S3Store

        globals()["S3Store"] = S3Store
        return S3Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
