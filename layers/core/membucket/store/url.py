"""Open an ObjectStore from a URL: the one place a configured location becomes a backend.

    file:///abs/path      LocalStore on that directory (created if missing)
    /abs/path, rel/path   the same; a relative path is resolved against the current directory
    s3://bucket/prefix    S3Store (prefix optional); endpoint_url/region/profile passed through
    memory://name         a process-wide MemoryStore registered under ``name`` (for tests)
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from .base import ObjectStore
from .local import LocalStore
from .memory import MemoryStore

__all__ = ["open_store"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_MEMORY: dict[str, MemoryStore] = {}
_MEMORY_LOCK = threading.Lock()


def open_store(
    url: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    max_retries: int | None = None,
    connect_timeout: float | None = None,
) -> ObjectStore:
    """Return the store ``url`` names. Raises ValueError for an unknown scheme or a malformed URL.

    ``max_retries`` and ``connect_timeout`` tune an S3 client (None: the defaults in store.s3).

    Example: ``open_store("s3://my-bucket/membucket", endpoint_url="http://localhost:9000")``
    """
    if not url or not url.strip():
        raise ValueError("store URL is empty: use s3://bucket/prefix, file:///abs/path, a path, or memory://name")
    url = url.strip()
    match = _SCHEME.match(url)
    if match is None:
        path = Path(url).expanduser()
        return LocalStore(path if path.is_absolute() else Path.cwd() / path)

    scheme = match.group(1).lower()
    parts = urlsplit(url)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file URL must name a local absolute path (file:///abs/path), got {url!r}")
        if not parts.path.startswith("/"):
            raise ValueError(f"file URL must name an absolute path (file:///abs/path), got {url!r}")
        return LocalStore(Path(url2pathname(parts.path)))
    if scheme == "s3":
        bucket = parts.netloc
        if not bucket:
            raise ValueError(f"S3 URL needs a bucket (s3://bucket/prefix), got {url!r}")
        from .s3 import CONNECT_TIMEOUT as S3_CONNECT_TIMEOUT  # boto3: only for an S3 store
        from .s3 import MAX_RETRIES as S3_MAX_RETRIES
        from .s3 import S3Store

        return S3Store(
            bucket,
            unquote(parts.path).strip("/"),
            endpoint_url=endpoint_url,
            region=region,
            profile=profile,
            max_retries=S3_MAX_RETRIES if max_retries is None else max_retries,
            connect_timeout=S3_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout,
        )
    if scheme == "memory":
        name = (parts.netloc + parts.path).strip("/") or "default"
        with _MEMORY_LOCK:
            store = _MEMORY.get(name)
            if store is None:
                store = _MEMORY[name] = MemoryStore(name)
        return store
    raise ValueError(
        f"unsupported store URL scheme {scheme!r} in {url!r}: "
        "use s3://bucket/prefix, file:///abs/path, a plain path, or memory://name"
    )
