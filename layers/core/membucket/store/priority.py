"""A starved writer's turn on a directory store: one ``flock`` per log prefix.

Commits race for the next log number and are not fair: the writer that just won holds the
newest state and claims the next number first, so with 8 processes looping on one namespace the
unluckiest commit waited 2-4 s. A writer that has waited past a threshold holds this lock
exclusively for its attempts; the others check it (shared, non-blocking) before each PUT and
stand aside while it is held. Ordinary commits never block on it, so they keep racing in
parallel; only a starved writer serialises them, for one attempt.

The lock is advisory: the create-if-absent PUT still decides every number, so a writer that
passed the check just before the lock was taken may still win once. It belongs to an open
handle (the OS drops it with a crashed process) and lives in the store's lock folder. Only
``flock`` has a shared mode: where the store uses ``filelock`` (no ``fcntl``), there is none.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: LocalStore.writer_priority returns None there
    fcntl = None  # type: ignore[assignment]

__all__ = ["WriterPriority"]

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class WriterPriority:
    """The turn of a starved writer on one log prefix (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def under(cls, lock_dir: Path, prefix: str) -> WriterPriority:
        return cls(lock_dir / f"priority-{hashlib.sha256(prefix.encode('utf-8')).hexdigest()[:32]}")

    def _open(self) -> int:
        """The lock file's handle; the lock folder is made on first use only (no mkdir per commit)."""
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | _O_CLOEXEC, 0o600)
        except FileNotFoundError:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | _O_CLOEXEC, 0o600)

    def claimed(self) -> bool:
        """Whether a starved writer holds the turn now (a shared, non-blocking check)."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # releases the shared lock, if taken
        return False

    def wait_turn(self, deadline: float) -> None:
        """Stand aside while a starved writer holds the turn (until ``deadline``, monotonic)."""
        while self.claimed() and time.monotonic() < deadline:
            time.sleep(random.uniform(0.0005, 0.005))

    @contextlib.contextmanager
    def hold(self, deadline: float) -> Iterator[bool]:
        """Take the turn exclusively; yields False if another starved writer kept it past ``deadline``."""
        fd = self._open()
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(random.uniform(0.0005, 0.005))
            yield True
        finally:
            os.close(fd)  # releases the lock
