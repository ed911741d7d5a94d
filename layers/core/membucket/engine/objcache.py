"""The machine's cache of immutable checkpoint files (``<cache_dir>/objects/<sha256>``), LRU-bounded.

One warm Lambda container serves many users; without a bound, every user's checkpoint stays in
``/tmp`` until the container dies and the function fails with ENOSPC. Files are content-addressed
and immutable, so evicting one only costs a download the next time it is needed.

- ``cached_object`` (engine/checkpoint.py) pins each file it returns; the caller ``release``-s it
  once the file is loaded into memory. A pinned file is never evicted, so a load in one thread
  never loses its file to a prune in another.
- A hit refreshes the file's mtime: eviction goes oldest mtime first (least recently used).
- ``release`` prunes down to the budget (``set_budget``; None = unbounded).
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import threading
from pathlib import Path

__all__ = ["set_budget", "budget", "pin", "release", "touch", "prune", "usage", "sha256_of"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pins: collections.Counter[str] = collections.Counter()
_budget: int | None = None


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's bytes (its name in the cache), read 1 MiB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def set_budget(max_bytes: int | None) -> None:
    """The most bytes of checkpoint files kept on disk (None: no bound)."""
    global _budget
    _budget = max_bytes


def budget() -> int | None:
    return _budget


def pin(path: Path) -> None:
    with _lock:
        _pins[str(path)] += 1


def touch(path: Path) -> None:
    """Mark a cache hit: the file becomes the most recently used."""
    try:
        os.utime(path)
    except OSError:
        pass


def release(*paths: Path) -> None:
    """The caller no longer reads these files; prune the cache to its budget."""
    objects: set[Path] = set()
    with _lock:
        for path in paths:
            key = str(path)
            _pins[key] -= 1
            if _pins[key] <= 0:
                del _pins[key]
            objects.add(Path(path).parent)
    for directory in objects:
        prune(directory)


def _entries(directory: Path) -> list[tuple[float, int, Path]]:
    out = []
    try:
        with os.scandir(directory) as it:
            for e in it:
                if e.name.startswith(".tmp-") or not e.is_file():
                    continue
                try:
                    st = e.stat()
                except FileNotFoundError:
                    continue
                out.append((st.st_mtime, st.st_size, Path(e.path)))
    except FileNotFoundError:
        return []
    return out


def usage(directory: Path) -> int:
    """Bytes of cached files in ``directory``."""
    return sum(size for _, size, _ in _entries(directory))


def prune(directory: Path, max_bytes: int | None = None) -> int:
    """Delete least-recently-used unpinned files until ``directory`` holds at most the budget.
    Returns the bytes freed."""
    limit = _budget if max_bytes is None else max_bytes
    if limit is None:
        return 0
    entries = sorted(_entries(directory), key=lambda e: e[0])
    total = sum(size for _, size, _ in entries)
    freed = 0
    with _lock:
        for _mtime, size, path in entries:
            if total <= limit:
                break
            if str(path) in _pins:
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            total -= size
            freed += size
    if freed:
        log.info("evicted %d bytes of cached checkpoint files (budget %d)", freed, limit)
    return freed
