"""What the filesystem under a directory store can do, found by trying it once per root.

The directory store (local.py) keeps its guarantees with one of two protocols, chosen here:

- ``links``: create-if-absent is ``link(2)`` of a finished temp file (POSIX filesystems, NTFS);
- ``portable``: create-if-absent is a check and a rename under the key's lock (exFAT, FAT32,
  and anything else without hard links).

and one of two key locks, both held by an open handle so a crashed process never leaves a
lock behind (the OS drops it with the handle; the lock files are only names):

- ``flock``: ``fcntl.flock`` (POSIX, including exFAT through FUSE, where the kernel keeps the
  locks itself);
- ``filelock``: the ``filelock`` library's native lock (``LockFileEx`` on Windows), where
  ``fcntl`` does not exist.

A filesystem that cannot give a guarantee is refused by ``probe`` with the guarantee named
(``UnsupportedFilesystem``): network filesystems (locks and renames are not atomic across
clients), locks that do not exclude a second handle, a rename that cannot replace a file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from .errors import StoreError

try:  # absent on Windows
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None  # type: ignore[assignment]

__all__ = ["CaseGuard", "FsCaps", "UnsupportedFilesystem", "probe", "describe", "filesystem_type", "NETWORK_FILESYSTEMS", "sync_folder"]

# Filesystem types (Linux /proc/self/mountinfo, macOS mount(8), Windows volume names) whose
# rename, link and locks are not atomic across the machines that share them.
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "afpfs", "afs", "9p", "davfs", "webdav", "ncpfs",
    "fuse.sshfs", "fuse.s3fs", "fuse.rclone", "fuse.gcsfuse", "fuse.goofys", "fuse.juicefs",
    "fuse.davfs", "fuse.mountpoint-s3", "fuse.smbnetfs", "fuse.dropbox",
})
# Folders a sync client copies between machines behind the store's back.
_SYNC_MARKERS = (
    "Dropbox", "OneDrive", "Google Drive", "GoogleDrive", "iCloud Drive", "Mobile Documents", "Nextcloud", "ownCloud", "pCloud", "MEGA", "Syncthing",
)
_NO_LINK_ERRNOS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class UnsupportedFilesystem(StoreError):
    """The store's directory is on a filesystem that cannot give one of the store's guarantees."""


@dataclass(frozen=True)
class FsCaps:
    fs_type: str  # "ext4", "fuseblk", "exfat", "ntfs", "unknown", ...
    hard_links: bool  # False: the portable protocol (see local.py)
    lock: str  # "flock" or "filelock"
    case_insensitive: bool

    @property
    def protocol(self) -> str:
        return "links" if self.hard_links else "portable"


_T = TypeVar("_T")
_CACHE: dict[tuple[str, bool], FsCaps] = {}
_CACHE_LOCK = threading.Lock()


def probe(root: Path, *, portable: bool | None = None) -> FsCaps:
    """Find (once per root and process) what ``root``'s filesystem can do; refuse what it can't.

    ``portable=True`` forces the portable protocol and the ``filelock`` lock on any filesystem
    (so that path is tested everywhere); ``None`` detects.
    """
    key = (str(root), bool(portable))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    caps = _probe(root, forced=bool(portable))
    with _CACHE_LOCK:
        _CACHE[key] = caps
    return caps


def _probe(root: Path, *, forced: bool) -> FsCaps:
    fs_type = filesystem_type(root)
    if fs_type in NETWORK_FILESYSTEMS:
        raise UnsupportedFilesystem(
            f"{root} is on a network filesystem ({fs_type}): create-if-absent and compare-and-swap "
            "are not atomic across its clients. Keep the store on a local disk or a USB stick, or use S3/MinIO."
        )
    lock = "filelock" if forced or fcntl is None else "flock"
    scratch = root / f".probe-{uuid.uuid4().hex}"
    try:
        os.mkdir(scratch, 0o700)
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            # Read-only: nothing will be written, so no write protocol is needed.
            return FsCaps(fs_type, fcntl is not None and not forced, lock, False)
        raise StoreError(f"cannot use {root}: {exc}") from exc
    try:
        a, b = scratch / "probe-A", scratch / "probe-b"
        _write(a, b"1")
        _write(b, b"2")
        try:
            os.replace(b, a)
        except OSError as exc:
            raise UnsupportedFilesystem(f"{root} ({fs_type}): a rename cannot replace a file ({exc}): puts would not be atomic") from exc
        if a.read_bytes() != b"2":
            raise UnsupportedFilesystem(f"{root} ({fs_type}): a rename did not replace a file: puts would not be atomic")
        try:
            os.close(os.open(a, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o600))
            raise UnsupportedFilesystem(f"{root} ({fs_type}): exclusive create does not fail on an existing file: create-if-absent is impossible")
        except FileExistsError:
            pass
        case_insensitive = (scratch / "probe-a").exists()
        hard_links = False
        if not forced:
            try:
                os.link(a, scratch / "probe-link")
                hard_links = True
            except (AttributeError, NotImplementedError):
                pass
            except OSError as exc:
                if exc.errno not in _NO_LINK_ERRNOS and not isinstance(exc, PermissionError):
                    raise StoreError(f"cannot use {root}: {exc}") from exc
        _check_lock(scratch / "probe-lock", lock, root, fs_type)
    finally:
        _remove_tree(scratch)
    return FsCaps(fs_type, hard_links, lock, case_insensitive)


def _check_lock(path: Path, kind: str, root: Path, fs_type: str) -> None:
    """The key lock must exclude a second handle (another thread or process), or CAS is not atomic."""
    try:
        with key_lock(path, kind):
            if _try_lock(path, kind):
                raise UnsupportedFilesystem(f"{root} ({fs_type}): file locks do not exclude each other here: compare-and-swap is not atomic")
    except UnsupportedFilesystem:
        raise
    except OSError as exc:
        raise UnsupportedFilesystem(f"{root} ({fs_type}): file locks are not available ({exc}): compare-and-swap is not atomic") from exc


def _try_lock(path: Path, kind: str) -> bool:
    if kind == "flock":
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
    import filelock

    other = filelock.FileLock(str(path), timeout=0, fallback_to_soft=False, preserve_lock_file=True, thread_local=False)
    try:
        other.acquire()
    except filelock.Timeout:
        return False
    other.release()
    return True


@contextmanager
def key_lock(path: Path, kind: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if absent). Both kinds belong to an open
    handle, so they exclude other threads of this process as well as other processes, and the
    OS releases them when a process dies."""
    if kind == "flock":
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
        return
    import filelock

    # A new instance per acquisition: no thread-local or re-entrant sharing between callers.
    # fallback_to_soft=False: never an O_EXCL marker file, which a crash would leave behind.
    lock = filelock.FileLock(str(path), fallback_to_soft=False, preserve_lock_file=True, thread_local=False, poll_interval=0.002)
    with lock:
        yield


class CaseGuard:
    """On a case-insensitive filesystem "ns/Alice" opens "ns/alice": two users would share one
    namespace. Every folder a key passes through must exist with exactly the key's spelling
    (or not yet exist), else the key is refused (InvalidKey: a 400, naming the other spelling).

    A folder's spelling is checked once per process (one directory read) and remembered; the
    store forgets folders it removes. A folder removed and recreated with another spelling by
    another process is not noticed until restart.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._exact: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def check(self, parts: list[str]) -> None:
        for depth in range(1, len(parts)):
            folder = tuple(parts[:depth])
            if folder in self._exact:
                continue
            parent = self.root.joinpath(*folder[:-1])
            try:
                names = os.listdir(parent)
            except (FileNotFoundError, NotADirectoryError):
                return  # nothing below exists yet: it will be created with this spelling
            if folder[-1] in names:
                with self._lock:
                    self._exact.add(folder)
                continue
            other = next((n for n in names if n.casefold() == folder[-1].casefold()), None)
            if other is None:
                return
            from .errors import InvalidKey

            raise InvalidKey(
                f"{'/'.join(folder)!r} and the existing {'/'.join((*folder[:-1], other))!r} differ only in case, "
                "and this filesystem ignores case (exFAT, FAT32, NTFS on Windows, macOS): use the existing spelling"
            )

    def forget(self, directory: Path) -> None:
        folder = directory.relative_to(self.root).parts
        with self._lock:
            self._exact = {f for f in self._exact if f[: len(folder)] != folder}


def describe(root: Path, caps: FsCaps) -> dict[str, Any]:
    """What ``doctor`` says about a directory store's filesystem, with warnings a user can act on."""
    warnings = []
    client = sync_folder(root)
    if client:
        warnings.append(
            f"{root} is in a {client} folder: the sync client copies files between machines behind the "
            "store's back, so two machines writing would fork the log. Use it from one machine only, "
            "or move the store out of the synced folder."
        )
    if caps.case_insensitive:
        warnings.append("this filesystem ignores case: a user id that differs from an existing one only in case is refused")
    return {
        "path": str(root),
        "filesystem": caps.fs_type,
        "protocol": caps.protocol,
        "lock": caps.lock,
        "case_insensitive": caps.case_insensitive,
        "warnings": warnings,
    }


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding ``path`` ("ext4", "fuseblk", "exfat", "nfs4", ...)."""
    try:
        if sys.platform.startswith("linux"):
            return _linux_fs_type(Path(path))
        if sys.platform == "darwin":
            return _mac_fs_type(Path(path))
        if sys.platform == "win32":  # pragma: no cover - Windows only
            return _windows_fs_type(Path(path))
    except (OSError, ValueError):
        pass
    return "unknown"


def sync_folder(path: Path) -> str | None:
    """The sync client whose folder holds ``path`` (Dropbox, OneDrive, iCloud...), if any."""
    parts = Path(path).resolve().parts
    for marker in _SYNC_MARKERS:
        if any(part == marker or part.startswith(marker + " ") or part.startswith(marker + "-") for part in parts):
            return marker
    return None


def _linux_fs_type(path: Path) -> str:
    target = str(path.resolve())
    best, best_type = "", "unknown"
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if len(fields) < 5 or not rfields:
                continue
            mount_point = fields[4].replace("\\040", " ")
            inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, best_type = mount_point, rfields[0]
    return best_type


def _mac_fs_type(path: Path) -> str:  # pragma: no cover - macOS only
    import subprocess

    out = subprocess.run(["mount"], capture_output=True, text=True, timeout=10).stdout
    target = str(path.resolve())
    best, best_type = "", "unknown"
    for line in out.splitlines():
        # "/dev/disk3s1 on /Volumes/STICK (exfat, local, nodev, nosuid, noowners)"
        head, _, opts = line.rpartition(" (")
        _, _, mount_point = head.partition(" on ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if mount_point and inside and len(mount_point) >= len(best):
            best, best_type = mount_point, opts.split(",")[0].strip(" )")
    return best_type


def _windows_fs_type(path: Path) -> str:  # pragma: no cover - Windows only
    import ctypes

    drive = os.path.splitdrive(str(path.resolve()))[0] + "\\"
    if drive.startswith("\\\\"):
        return "smb3"  # a UNC path is a network share
    name = ctypes.create_unicode_buffer(64)
    if not ctypes.windll.kernel32.GetVolumeInformationW(drive, None, 0, None, None, None, name, 64):  # type: ignore[attr-defined]
        return "unknown"
    return name.value.lower()


def _write(path: Path, body: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY | _O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(body)


def _remove_tree(directory: Path) -> None:
    for child in directory.iterdir() if directory.exists() else ():
        try:
            os.unlink(child)
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


# -- file primitives shared by the directory store ----------------------------------------


def read_version(path: Path) -> tuple[os.stat_result, bytes]:
    """One version of a file: a concurrent rename swaps the name, not the file we opened."""
    f = retry_sharing(_open_binary, path)
    with f:
        return os.fstat(f.fileno()), f.read()


def _open_binary(path: Path) -> BinaryIO:
    return open(path, "rb")


def content_etag(body: bytes) -> str:
    """A digest of the bytes (portable protocol, small objects); 'h' keeps it apart from stat ETags."""
    return "h" + hashlib.blake2b(body, digest_size=16).hexdigest()


def retry_sharing(fn: Callable[..., _T], *args: Any) -> _T:
    """Windows refuses to rename over, delete or open a file another handle holds without
    FILE_SHARE_DELETE (a reader mid-read): wait for it briefly, as POSIX never needs to."""
    if os.name != "nt":
        return fn(*args)
    for _ in range(199):  # pragma: no cover - Windows only
        try:
            return fn(*args)
        except PermissionError:
            time.sleep(0.01)
    return fn(*args)  # pragma: no cover - Windows only


def stat_etag(st: os.stat_result) -> str:
    """Every put writes a new file and renames it into place, so (inode, mtime, size) names one
    version: an ETag without reading (and hashing) the whole object on every GET."""
    return f"{st.st_ino:x}{st.st_mtime_ns:x}{st.st_size:x}"


def unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def fsync_dir(directory: Path) -> None:
    """Make a rename/link/mkdir in ``directory`` durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems refuse fsync on directories
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise StoreError(f"fsync {directory}: {exc}") from exc
    finally:
        os.close(fd)
