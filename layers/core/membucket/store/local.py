"""A local directory used as a bucket: ``<root>/<key>`` holds the bytes of ``key``.

(Over 500 lines because the whole protocol of one backend, and its limits below, stay together;
what the filesystem can do is in ``dirfs.py``, a starved writer's turn in ``priority.py``.)

Limitations — read this before using in production
===================================================

The directory backend serves ONE MACHINE at a time (a USB stick may move between machines).
SUPPORTED: local filesystems: ext4, xfs, btrfs, zfs, tmpfs, APFS, NTFS, exFAT/FAT32 (USB sticks,
also through FUSE on Linux), on Linux, macOS and Windows. REFUSED when opened, naming the
missing guarantee: network filesystems, locks that do not exclude, renames that cannot replace
(``dirfs.py``, which probes each root once and picks the protocol below).

- A key cannot be both an object and the "folder" of other keys (``a`` and ``a/b``): a put that
  would need that raises InvalidKey. On a case-insensitive filesystem (macOS, Windows, exFAT,
  FAT32) a key whose folder differs only in case from an existing one is refused
  (``dirfs.CaseGuard``: "ns/Alice" would open "ns/alice"); Windows drops trailing dots.
- Names starting with a dot are reserved: ``.tmp-*`` temp files, ``.new-*`` staged versions,
  ``.probe-*``, the top-level ``.locks`` directory, and whatever other tools drop into folders
  (``.DS_Store``, editor swap files). A key with a segment starting with '.' raises
  InvalidKey, and listing never shows such names. A crash mid-put can leave a ``.tmp-*`` file;
  it is invisible and harmless, and can be removed when no put is running.
- ETags name a file version by (inode, mtime, size), not by content: every put writes a new
  file and renames it into place, so each version has its own inode. Reads never hash the body
  (a 300 MB checkpoint is not read twice), and equal content written twice gets two ETags.
  Portable protocol: objects up to 64 KiB (pointers, tokens, log entries) are named by a
  blake2b digest of their content instead, because FAT-family file ids are reused and its
  clocks tick in 10 ms (exFAT) or 2 s (FAT32), so (id, mtime, size) could name two versions.
  Larger objects are written once (checkpoints, blobs) and keep stat ETags.
- ``copy`` within a store hard-links when it can, so the copy keeps the source's mtime
  (``last_modified``).
- Files and directories are created private to the owner (0600/0700; FAT has no modes).

How the guarantees are kept
---------------------------

1. Every put writes ``<dir>/.tmp-<uuid>`` next to the final name and fsyncs it: a body is
   complete and durable before it has an object's name, so no crash or pulled plug can leave
   a half-written object visible.
2. Links protocol (filesystems with hard links). Unconditional put: ``os.replace(tmp, final)``
   under the key's lock (atomic: readers see the old file or the new one). If-None-Match:
   ``os.link(tmp, final)``, which fails with EEXIST when the key exists, atomically across
   processes → PreconditionFailed; then the temp is removed. If-Match: take the key's lock,
   compare the current ETag (a missing key fails, as on S3), ``os.replace``, release.
3. Portable protocol (no hard links: exFAT, FAT32). Every put takes the key's lock, finishes an
   interrupted replace (4), then: If-None-Match checks the name is free and renames the temp
   to it (nothing else can take the name while the lock is held; on Windows the rename itself
   also fails on an existing name). If-Match compares the ETag. A replace renames the temp to
   ``.new-<name>``, fsyncs the directory, then renames that over the name.
4. On FAT-family filesystems a rename over a name is "remove the old entry, write the new one",
   not one journaled step: a pulled plug (or, for a moment, a replace in progress) leaves the
   name empty. A reader (get, head, list) that finds it empty looks again under the key's lock,
   where no replace runs; the staged ``.new-<name>``, complete and durable, is renamed into
   place there or by the next writer. That replace was decided (its If-Match
   checked) under the lock, and nothing changed the key since (that needs the lock, which
   finishes it first), so rolling it forward is what the put would have done. A put that fails
   in its own process (an error, not a crash) removes what it staged.
5. The directory is fsynced after the rename or link, before the put returns.
6. Delete takes the key's lock too, so an unconditional put or delete can never slip between a
   compare-and-swap's check and its rename.
7. Key locks are striped over ``<root>/.locks/`` and held by an open handle (``flock``, or the
   ``filelock`` library's ``LockFileEx`` on Windows): the OS drops a dead process's lock, so a
   crash never wedges the store. What remains of the filesystem's own crash safety (a torn
   directory entry on FAT, found by the dirty bit) is repaired by chkdsk / fsck.exfat, as for
   any file on that stick.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .base import GetResult, ObjectInfo, ObjectStore, PutCondition, validate_key, validate_prefix
from .dirfs import CaseGuard, FsCaps, content_etag, fsync_dir, key_lock, probe, read_version, retry_sharing, stat_etag, unlink_quietly
from .errors import InvalidKey, NotFound, NotModified, PreconditionFailed, StoreError
from .priority import WriterPriority

__all__ = ["LocalStore"]

_TMP_PREFIX = ".tmp-"
_NEW_PREFIX = ".new-"  # portable protocol: the next version of <name>, complete, not yet in place
# Portable protocol: objects up to this size are named by a digest of their content (FAT-family
# file ids are reused and their clocks tick in 10 ms or 2 s, so (id, mtime, size) could repeat).
_CONTENT_ETAG_MAX = 64 * 1024
_LOCK_DIR = ".locks"
# Locks are striped over 16**3 = 4096 files by a hash of the key: per-key lock files could never
# be deleted safely (a waiter may hold the old inode), so their number must stay bounded.
# Two keys sharing a stripe only wait for each other briefly; there is no deadlock since an
# operation holds one lock at a time.
_LOCK_STRIPE_HEX = 3
_CHUNK = 1 << 20
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: never translate line endings
_NOT_AN_OBJECT = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


class LocalStore:
    """A directory as a bucket. See the module docstring for its guarantees and limits."""
    cheap_list_after = False  # a listing reads and sorts the whole folder

    def __init__(self, root: Path | str, *, portable: bool | None = None) -> None:
        """``portable=True`` forces the protocol for filesystems without hard links or fcntl
        (tests run it on any filesystem); ``None`` detects what the filesystem can do."""
        root = Path(root).expanduser().resolve()
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root = root
        self.url = root.as_uri()
        self.caps: FsCaps = probe(root, portable=portable)
        self._portable = not self.caps.hard_links
        self._case = CaseGuard(root) if self.caps.case_insensitive else None

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def writer_priority(self, prefix: str) -> WriterPriority | None:
        """A starved writer's turn on ``prefix`` (priority.py); None where locks have no shared mode."""
        return WriterPriority.under(self.root / _LOCK_DIR, prefix) if self.caps.lock == "flock" else None

    # -- reads ---------------------------------------------------------------------------------

    def get(self, key: str, *, if_none_match: str | None = None) -> GetResult:
        path = self._path(key)
        try:
            try:
                st, body = read_version(path)
            except _NOT_AN_OBJECT:
                if not self._portable:
                    raise
                with self._key_lock(key):  # module docstring, 4
                    self._settle(path)
                    st, body = read_version(path)
        except _NOT_AN_OBJECT:
            raise NotFound(key) from None
        except OSError as exc:
            raise StoreError(f"get {key}: {exc}") from exc
        etag = self._etag_of(st, body)
        if if_none_match is not None and if_none_match == etag:
            raise NotModified(key)
        return GetResult(body=body, etag=etag, last_modified=st.st_mtime)

    def head(self, key: str) -> ObjectInfo:
        path = self._path(key)
        info = self._info_settled(path, key)
        if info is None:
            raise NotFound(key)
        return info

    def list(self, prefix: str, *, start_after: str | None = None, limit: int | None = None) -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        if limit is not None and limit <= 0:
            return
        # Walk only the directory that holds the prefix's last segment, never the whole root.
        dir_part, _, name_prefix = prefix.rpartition("/")
        if self._case is not None and dir_part:
            self._case.check([*dir_part.split("/"), ""])
        directory = self.root.joinpath(*dir_part.split("/")) if dir_part else self.root
        key_base = f"{dir_part}/" if dir_part else ""
        count = 0
        for info in self._walk(directory, key_base, name_prefix, start_after):
            yield info
            count += 1
            if limit is not None and count >= limit:
                return

    # -- writes --------------------------------------------------------------------------------

    def put(self, key: str, body: bytes, condition: PutCondition | None = None) -> str:
        path = self._path(key)
        if condition is not None and condition.if_none_match and os.path.isfile(path):
            # Cheap early answer for the common lost race; the link below is the atomic check.
            raise PreconditionFailed(f"{key}: exists")
        written = self._write_temp(path.parent, key, body)
        if self._portable:
            return self._install(key, path, written, condition, body)
        tmp: Path | None = written  # None once it is in place
        etag = stat_etag(os.stat(written))  # rename and link keep the inode and mtime
        try:
            if condition is not None and condition.if_none_match:
                try:
                    os.link(written, path)
                except FileExistsError:
                    if path.is_dir():
                        raise _conflict(key) from None
                    raise PreconditionFailed(f"{key}: exists") from None
            else:
                with self._key_lock(key):
                    self._check_if_match(key, path, condition)
                    os.replace(written, path)
                    tmp = None
        except IsADirectoryError:
            raise _conflict(key) from None
        except OSError as exc:
            raise StoreError(f"put {key}: {exc}") from exc
        finally:
            if tmp is not None:
                unlink_quietly(tmp)
        fsync_dir(path.parent)
        return etag

    def delete(self, key: str) -> None:
        path = self._path(key)
        with self._key_lock(key):
            if path.is_dir():
                return  # a "folder" of other keys, not an object
            self._settle(path)
            try:
                retry_sharing(os.unlink, path)
            except _NOT_AN_OBJECT:
                return
            except OSError as exc:
                raise StoreError(f"delete {key}: {exc}") from exc
        fsync_dir(path.parent)
        # Best effort: drop directories left empty, never the root. A put that races with this
        # recreates its directory (see _write_temp); a directory holding a temp file is not empty.
        directory = path.parent
        while directory != self.root:
            try:
                os.rmdir(directory)
            except OSError:
                break
            if self._case is not None:
                self._case.forget(directory)
            directory = directory.parent

    def copy(self, src_key: str, dst_key: str, *, dst: ObjectStore | None = None) -> None:
        src = self._path(src_key)
        if dst is not None and dst is not self:
            validate_key(dst_key)
            dst.put(dst_key, self.get(src_key).body)
            return
        dst_path = self._path(dst_key)
        if self._portable:
            body = self.get(src_key).body
            self._install(dst_key, dst_path, self._write_temp(dst_path.parent, dst_key, body), None, body)
            return
        linked = self._link_temp(src, src_key, dst_path.parent, dst_key)
        tmp: Path | None = linked
        try:
            with self._key_lock(dst_key):
                os.replace(linked, dst_path)
                tmp = None
        except IsADirectoryError:
            raise _conflict(dst_key) from None
        except OSError as exc:
            raise StoreError(f"copy {src_key} -> {dst_key}: {exc}") from exc
        finally:
            if tmp is not None:
                unlink_quietly(tmp)
        fsync_dir(dst_path.parent)

    # -- internals -----------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        validate_key(key)
        parts = key.split("/")
        if any(p.startswith(".") for p in parts):
            raise InvalidKey(f"invalid key for a directory store (names starting with '.' are reserved): {key!r}")
        if self._case is not None:
            self._case.check(parts)
        return self.root.joinpath(*parts)

    def _info(self, path: Path, key: str) -> ObjectInfo | None:
        """Size, ETag and mtime of one version of the file, or None when it is not an object."""
        try:
            st = os.stat(path)
            body = None
            if self._portable and stat.S_ISREG(st.st_mode) and st.st_size <= _CONTENT_ETAG_MAX:
                st, body = read_version(path)  # size and digest of one version
        except _NOT_AN_OBJECT:
            return None
        except OSError as exc:
            raise StoreError(f"head {key}: {exc}") from exc
        if not stat.S_ISREG(st.st_mode):
            return None
        return ObjectInfo(key=key, size=st.st_size, etag=self._etag_of(st, body), last_modified=st.st_mtime)

    def _etag_of(self, st: os.stat_result, body: bytes | None) -> str:
        if self._portable and body is not None and len(body) <= _CONTENT_ETAG_MAX:
            return content_etag(body)
        return stat_etag(st)

    # -- the portable protocol (no hard links) -------------------------------------------------

    def _install(self, key: str, path: Path, tmp: Path, condition: PutCondition | None, body: bytes) -> str:
        """Put a finished temp file in place under the key's lock (module docstring, 3-4);
        return the new ETag."""
        new = path.with_name(_NEW_PREFIX + path.name)
        staged: Path | None = tmp
        try:
            with self._key_lock(key):
                self._settle(path)
                if path.is_dir():
                    raise _conflict(key)
                exists = path.is_file()
                if condition is not None and condition.if_none_match:
                    if exists:
                        raise PreconditionFailed(f"{key}: exists")
                    retry_sharing(os.rename, tmp, path)
                else:
                    self._check_if_match(key, path, condition)
                    if exists:
                        retry_sharing(os.rename, tmp, new)
                        staged = new
                        fsync_dir(path.parent)
                        retry_sharing(os.replace, new, path)
                    else:
                        retry_sharing(os.rename, tmp, path)
                staged = None
                fsync_dir(path.parent)
                if len(body) <= _CONTENT_ETAG_MAX:
                    return content_etag(body)
                return stat_etag(os.stat(path))
        except IsADirectoryError:
            raise _conflict(key) from None
        except OSError as exc:
            raise StoreError(f"put {key}: {exc}") from exc
        finally:
            if staged is not None:  # failed in this process (not a crash): the put did not happen
                unlink_quietly(staged)

    def _settle(self, path: Path) -> bool:
        """Under the key's lock: move an interrupted replace's ``.new-<name>`` into place."""
        new = path.with_name(_NEW_PREFIX + path.name)
        if not self._portable or not new.is_file():
            return False
        retry_sharing(os.replace, new, path)
        fsync_dir(path.parent)
        return True

    def _info_settled(self, path: Path, key: str) -> ObjectInfo | None:
        """``_info``; in the portable protocol a miss is checked again under the key's lock. A
        reader can find the name empty in two cases: a crash left the next version staged
        (finish that replace), or a replace is running right now: FAT-family filesystems (and
        FUSE, for a cached name) remove the old entry before the new one has the name. Under the
        lock no replace is running, so a miss there is a real one.
        """
        info = self._info(path, key)
        if info is None and self._portable:
            with self._key_lock(key):
                self._settle(path)
                info = self._info(path, key)
        return info

    def download(self, key: str, path: Path) -> None:
        """Place the object at ``path`` (a hard link when on the same filesystem, else a copy)."""
        src = self._path(key)
        if self._portable and not src.is_file():
            self._info_settled(src, key)
        tmp = Path(path).with_name(f".tmp-{uuid.uuid4().hex}")
        try:
            try:
                if self._portable:
                    raise PermissionError(errno.EPERM, "no hard links on this store's filesystem")
                os.link(src, tmp)
            except OSError as exc:
                if isinstance(exc, _NOT_AN_OBJECT):
                    raise NotFound(key) from None
                shutil.copyfile(src, tmp)
            os.replace(tmp, path)
        except _NOT_AN_OBJECT:
            raise NotFound(key) from None
        finally:
            unlink_quietly(tmp)

    def _etag(self, path: Path) -> str | None:
        info = self._info(path, "")
        return None if info is None else info.etag

    def _check_if_match(self, key: str, path: Path, condition: PutCondition | None) -> None:
        """Refuse a put whose If-Match names another version (call under the key's lock)."""
        if condition is not None and condition.if_match is not None:
            current = self._etag(path)
            if current is None:
                raise PreconditionFailed(f"{key}: missing (If-Match)")
            if current != condition.if_match:
                raise PreconditionFailed(f"{key}: etag changed")

    def _walk(self, directory: Path, key_base: str, name_prefix: str, start_after: str | None) -> Iterator[ObjectInfo]:
        """Yield objects under ``directory`` in key order, lazily, one directory read at a time."""
        entries: list[tuple[str, bool, str]] = []
        staged: list[str] = []
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    name = entry.name
                    if self._portable and name.startswith(_NEW_PREFIX) and name[len(_NEW_PREFIX):].startswith(name_prefix):
                        staged.append(name[len(_NEW_PREFIX):])
                    if not name.startswith(name_prefix) or name.startswith("."):
                        continue  # temp files, .locks, .DS_Store: never objects
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            # Sort a folder as "name/": every key inside starts with it, so the
                            # folder's keys stay contiguous and in place ("a-c" < "a/b").
                            entries.append((f"{key_base}{name}/", True, entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            entries.append((f"{key_base}{name}", False, entry.path))
                    except OSError:
                        continue
        except (FileNotFoundError, NotADirectoryError):
            return
        listed = {key for key, _, _ in entries}
        for name in staged:  # a crash left an object's next version staged and the name empty
            key = f"{key_base}{name}"
            if key not in listed and not name.startswith(".") and self._info_settled(directory / name, key) is not None:
                entries.append((key, False, str(directory / name)))
        entries.sort()
        for key, is_dir, path in entries:
            if is_dir:
                # Skip a folder whose every key is <= start_after.
                if start_after is not None and start_after >= key and not start_after.startswith(key):
                    continue
                yield from self._walk(Path(path), key, "", start_after)
            elif start_after is None or key > start_after:
                info = self._info_settled(Path(path), key)
                if info is not None:  # deleted since the directory was read
                    yield info

    def _makedirs(self, directory: Path, key: str) -> None:
        if directory.is_dir():
            return
        missing: list[Path] = []
        d = directory
        while not d.exists():
            missing.append(d)
            d = d.parent
        for d in reversed(missing):
            try:
                os.mkdir(d, 0o700)
            except FileExistsError:
                pass
            except NotADirectoryError:
                raise _conflict(key) from None
            fsync_dir(d.parent)
        if not directory.is_dir():
            raise _conflict(key)

    def _write_temp(self, directory: Path, key: str, body: bytes) -> Path:
        """Write ``body`` to a fsynced temp file in ``directory`` (created if needed)."""
        for _ in range(10):
            tmp = directory / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                self._makedirs(directory, key)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC | _O_BINARY, 0o600)
            except FileNotFoundError:
                continue  # a concurrent delete removed the (empty) directory: create it again
            except NotADirectoryError:
                raise _conflict(key) from None
            except OSError as exc:
                raise StoreError(f"put {key}: {exc}") from exc
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(body)
                    f.flush()
                    os.fsync(f.fileno())
            except BaseException as exc:
                unlink_quietly(tmp)
                if isinstance(exc, OSError):
                    raise StoreError(f"put {key}: {exc}") from exc
                raise
            return tmp
        raise StoreError(f"put {key}: directory {directory} keeps disappearing")

    def _link_temp(self, src: Path, src_key: str, directory: Path, dst_key: str) -> Path:
        """A temp file in ``directory`` with the content of ``src``: a hard link, else a copy."""
        if src.is_dir():
            raise NotFound(src_key)
        for _ in range(10):
            tmp = directory / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                self._makedirs(directory, dst_key)
                os.link(src, tmp)
                return tmp
            except (FileNotFoundError, NotADirectoryError):
                if not src.is_file():
                    raise NotFound(src_key) from None
                continue  # our directory vanished under a concurrent delete
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise StoreError(f"copy {src_key} -> {dst_key}: {exc}") from exc
                break  # no hard links here: copy the bytes instead
        return self._write_temp(directory, dst_key, self.get(src_key).body)

    @contextmanager
    def _key_lock(self, key: str) -> Iterator[None]:
        # Case-folded: on a case-insensitive filesystem "A" and "a" are one file, so one lock.
        name = key.lower() if self.caps.case_insensitive else key
        stripe = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_LOCK_STRIPE_HEX]
        lock_dir = self.root / _LOCK_DIR
        if not lock_dir.is_dir():
            lock_dir.mkdir(mode=0o700, exist_ok=True)
        # Both lock kinds belong to an open handle (dirfs.key_lock): they exclude other threads
        # of this process as well as other processes, and die with the process that held them.
        with key_lock(lock_dir / stripe, self.caps.lock):
            yield


def _conflict(key: str) -> InvalidKey:
    return InvalidKey(f"key {key!r} conflicts with an existing key: a directory store cannot hold both 'a' and 'a/...'")


