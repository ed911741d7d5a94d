"""The object-store seam: keys and bytes, nothing about logs or checkpoints.

Every backend (local directory, S3, in-memory) must provide:

- atomic put: a reader sees the whole old object or the whole new one, never a torn write;
- read-after-write: a successful put is visible to the next get/list from any process;
- write-if-absent: ``PutCondition(if_none_match=True)`` fails with PreconditionFailed when the
  key exists, atomically across threads and processes;
- compare-and-swap: ``PutCondition(if_match=etag)`` fails with PreconditionFailed when the
  key's ETag differs or the key is missing (as S3 does);
- lexicographic listing of keys under a prefix, optionally strictly after a given key.

A backend may set ``cheap_list_after = True`` when a listing strictly after a key costs one
request whatever precedes it (S3); the engine then learns a log's head with one LIST. Without
it (a directory store reads the whole folder) the engine probes key by key.

Keys are '/'-separated relative paths (``validate_key``); a list prefix is a key's beginning
(``validate_prefix``: '' and a trailing '/' are allowed). ETags are opaque strings without
quotes; equal content does not have to give equal ETags across backends, but one backend is
consistent with itself.

Errors are the classes in ``errors.py``: a backend maps its own failures onto them in one place
and raises anything it cannot classify as a plain ``StoreError``. Transport retries (throttling,
5xx, timeouts) happen inside the backend; conditional-write outcomes (PreconditionFailed,
ConflictInFlight) are never retried by the store: the caller decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .errors import InvalidKey

__all__ = ["ObjectStore", "PutCondition", "IF_ABSENT", "ObjectInfo", "GetResult", "validate_key", "validate_prefix"]


@dataclass(frozen=True)
class PutCondition:
    """At most one condition for a put. Setting both is a programming error."""

    if_none_match: bool = False
    if_match: str | None = None

    def __post_init__(self) -> None:
        if self.if_none_match and self.if_match is not None:
            raise ValueError("PutCondition: set if_none_match or if_match, not both")


IF_ABSENT = PutCondition(if_none_match=True)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: float  # unix seconds


@dataclass(frozen=True)
class GetResult:
    body: bytes
    etag: str
    last_modified: float


_BAD_KEY = re.compile(r"[\x00-\x1f\x7f\\]")


def validate_key(key: str) -> str:
    """Refuse keys that could escape a prefix or a directory."""
    if not key or key.startswith("/") or key.endswith("/") or _BAD_KEY.search(key):
        raise InvalidKey(f"invalid key: {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidKey(f"invalid key: {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Refuse list prefixes that could escape a directory; '' and a trailing '/' are fine.

    Every '/'-terminated segment must be a valid key segment; the last (partial) segment only
    has to be free of control characters and backslashes, so ``"ns/u1/lo"`` is a valid prefix.
    """
    if prefix.startswith("/") or _BAD_KEY.search(prefix):
        raise InvalidKey(f"invalid prefix: {prefix!r}")
    if any(part in ("", ".", "..") for part in prefix.split("/")[:-1]):
        raise InvalidKey(f"invalid prefix: {prefix!r}")
    return prefix


@runtime_checkable
class ObjectStore(Protocol):
    """A bucket (or a prefix of one) seen as a flat map of keys to bytes."""

    url: str

    def get(self, key: str, *, if_none_match: str | None = None) -> GetResult:
        """Return the object, read atomically (one whole version).

        Raises NotFound; NotModified when ``if_none_match`` equals its current ETag.
        """
        ...

    def head(self, key: str) -> ObjectInfo:
        """Return size/ETag/mtime without the body. Raises NotFound."""
        ...

    def put(self, key: str, body: bytes, condition: PutCondition | None = None) -> str:
        """Store ``body`` atomically and return its new ETag.

        ``condition=IF_ABSENT`` (If-None-Match: *) raises PreconditionFailed when the key exists;
        ``PutCondition(if_match=etag)`` raises PreconditionFailed when the current ETag differs or
        the key is missing. ConflictInFlight means a conflicting write was in progress: retry the
        same request. Unavailable after a put leaves the outcome unknown (the write may have landed).
        Where the transport retries (S3), a conditional put whose first attempt landed but whose
        response was lost comes back as PreconditionFailed: compare the stored content to tell.
        """
        ...

    def list(self, prefix: str, *, start_after: str | None = None, limit: int | None = None) -> Iterator[ObjectInfo]:
        """Yield objects whose key starts with ``prefix``, in ascending key order, strictly after ``start_after``.

        Keys are compared as UTF-8 bytes (as S3 does); at most ``limit`` objects are yielded.
        Errors may surface while iterating, not only at the call.
        """
        ...

    def delete(self, key: str) -> None:
        """Delete a key; deleting a missing key is not an error (as in S3)."""
        ...

    def copy(self, src_key: str, dst_key: str, *, dst: ObjectStore | None = None) -> None:
        """Copy an object to ``dst_key`` in this store (or in ``dst``), server-side where possible.

        Unconditional: an existing ``dst_key`` is replaced. Raises NotFound when ``src_key`` is missing.
        """
        ...
