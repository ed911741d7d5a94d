"""An ObjectStore held in a dict: for tests and for the layers above that need a fake bucket.

It gives every guarantee of the contract within one process (one lock serialises every
operation); nothing survives the process. ETags are the MD5 of the content, as S3 gives for a
single-part upload.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator

from .base import GetResult, ObjectInfo, ObjectStore, PutCondition, validate_key, validate_prefix
from .errors import NotFound, NotModified, PreconditionFailed

__all__ = ["MemoryStore"]


class MemoryStore:
    """A process-local bucket: ``{key: (body, etag, last_modified)}`` behind one lock."""
    cheap_list_after = True  # lists as S3 does (tests take S3's code paths on it)

    def __init__(self, name: str | None = None) -> None:
        self.name = name or uuid.uuid4().hex[:12]
        self.url = f"memory://{self.name}"
        self._objects: dict[str, tuple[bytes, str, float]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryStore({self.name!r})"

    def get(self, key: str, *, if_none_match: str | None = None) -> GetResult:
        validate_key(key)
        with self._lock:
            entry = self._objects.get(key)
        if entry is None:
            raise NotFound(key)
        body, etag, mtime = entry
        if if_none_match is not None and if_none_match == etag:
            raise NotModified(key)
        return GetResult(body=body, etag=etag, last_modified=mtime)

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        with self._lock:
            entry = self._objects.get(key)
        if entry is None:
            raise NotFound(key)
        body, etag, mtime = entry
        return ObjectInfo(key=key, size=len(body), etag=etag, last_modified=mtime)

    def put(self, key: str, body: bytes, condition: PutCondition | None = None) -> str:
        validate_key(key)
        body = bytes(body)
        etag = hashlib.md5(body).hexdigest()
        with self._lock:
            current = self._objects.get(key)
            if condition is not None and condition.if_none_match and current is not None:
                raise PreconditionFailed(f"{key}: exists")
            if condition is not None and condition.if_match is not None:
                if current is None:
                    raise PreconditionFailed(f"{key}: missing (If-Match)")
                if current[1] != condition.if_match:
                    raise PreconditionFailed(f"{key}: etag changed")
            self._objects[key] = (body, etag, time.time())
        return etag

    def list(self, prefix: str, *, start_after: str | None = None, limit: int | None = None) -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        with self._lock:
            # Python compares str by code point, which is the UTF-8 byte order S3 uses.
            keys = sorted(
                k for k in self._objects if k.startswith(prefix) and (start_after is None or k > start_after)
            )
            if limit is not None:
                keys = keys[: max(limit, 0)]
            snapshot = [(k, self._objects[k]) for k in keys]
        for key, (body, etag, mtime) in snapshot:
            yield ObjectInfo(key=key, size=len(body), etag=etag, last_modified=mtime)

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def copy(self, src_key: str, dst_key: str, *, dst: ObjectStore | None = None) -> None:
        validate_key(src_key)
        validate_key(dst_key)
        if dst is None or dst is self:
            with self._lock:
                entry = self._objects.get(src_key)
                if entry is None:
                    raise NotFound(src_key)
                self._objects[dst_key] = (entry[0], entry[1], time.time())
            return
        dst.put(dst_key, self.get(src_key).body)
