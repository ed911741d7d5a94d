"""Checkpoints: the full state of a namespace at one sequence, as immutable objects plus a pointer.

Format 3 (engine/segments.py): content-addressed Parquet segments under ``segments/`` (big ones
as parts) and ``checkpoints/<S>-<tag>/manifest.json`` naming them; only what changed since the
previous checkpoint is uploaded. Format 2 (the same without parts) loads as is; format 1
(``db.duckdb`` + ``index.faiss`` + ``meta.json``) still loads, and the first compaction of such
a store writes format 3. ``CHECKPOINT`` records the
format it points at; a format newer than ``KNOWN_FORMAT`` raises StoreFormatTooNew, before
anything is read or written.

Write protocol (compaction):

1. Sync the replica to sequence S; diff it against the checkpoint the pointer names.
2. PUT the new segments (If-None-Match: a 412 means the same bytes are there), then
   ``checkpoints/<S>-<tag>/manifest.json`` (a fresh tag per attempt: a writer killed half-way
   leaves only unreferenced objects, which GC removes after the grace period).
3. Move ``CHECKPOINT`` with If-Match on the ETag read (If-None-Match when absent). 412 → re-read;
   a pointer already at S or newer is left alone. Readers only ever follow the pointer.

Garbage collection (``collect_garbage``) keeps the current checkpoint, the previous one (whose
segments it mostly shares) and the log since the previous one; older manifests, their
unshared segments and older entries go once older than the grace period (``retention_seconds``),
so a replica mid-load is not broken (loaders re-read the pointer on NotFound). Point-in-time
beyond that is what backups keep.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreFormatTooNew
from ..store import IF_ABSENT, NotFound, ObjectStore, PreconditionFailed, PutCondition
from .blobs import collect_blobs
from .claims import collect_claims
from .keys import NamespaceKeys
from .objcache import pin, release, sha256_of, touch
from .reindex import collect_reindex_garbage
from .segments import MANIFEST, Manifest

__all__ = [
    "Pointer", "CheckpointMeta", "read_pointer", "fetch_checkpoint", "cached_object", "publish_checkpoint", "move_pointer",
    "collect_garbage", "GcResult", "KNOWN_FORMAT", "check_format", "checkpoint_format", "read_manifest",
]

KNOWN_FORMAT = 3  # the newest checkpoint format this version reads and writes (3: segment parts)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pointer:
    seq: int
    dir: str
    etag: str | None = None
    format: int | None = None  # None: not recorded (format 1 pointers; restore entries): look at the directory

    def to_json(self) -> bytes:
        doc: dict[str, object] = {"seq": self.seq, "dir": self.dir}
        if self.format is not None and self.format > 1:
            doc["format"] = self.format
        return json.dumps(doc).encode()


def check_format(found: object, where: str) -> int:
    """The format number, or StoreFormatTooNew when this version does not know it."""
    try:
        fmt = int(str(found))
    except (TypeError, ValueError):
        raise CorruptCheckpoint(f"{where} has no readable format number ({str(found)[:40]!r})") from None
    if fmt > KNOWN_FORMAT:
        raise StoreFormatTooNew(
            f"{where} is in store format {fmt}; this membucket knows formats up to {KNOWN_FORMAT}: upgrade membucket",
            found=fmt, known=KNOWN_FORMAT,
        )
    return fmt


@dataclass(frozen=True)
class CheckpointMeta:
    seq: int
    embedder: str | None
    dim: int | None
    memories: int
    active: int
    db_sha256: str
    db_size: int
    index_sha256: str
    index_size: int
    created_at: float
    schema: int = 1

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()

    @classmethod
    def from_json(cls, body: bytes) -> CheckpointMeta:
        return cls(**json.loads(body))


class CorruptCheckpoint(RuntimeError):
    """A checkpoint whose files do not match the checksums in its meta.json."""


def read_pointer(store: ObjectStore, keys: NamespaceKeys) -> Pointer | None:
    try:
        res = store.get(keys.pointer)
    except NotFound:
        return None
    doc = json.loads(res.body)
    fmt = check_format(doc["format"], keys.pointer) if "format" in doc else None
    return Pointer(seq=int(doc["seq"]), dir=str(doc["dir"]), etag=res.etag, format=fmt)


def check_inside(keys: NamespaceKeys, ckpt_dir: str) -> None:
    """A checkpoint directory must be this namespace's: a pointer or restore entry written by hand
    (or a tampered restore) can never load another user's data."""
    inside = ckpt_dir.startswith(keys.checkpoints_prefix) and ckpt_dir.endswith("/")
    if not inside or ".." in ckpt_dir or "/" in ckpt_dir[len(keys.checkpoints_prefix):-1]:
        raise CorruptCheckpoint(f"a checkpoint of {keys.root} names {ckpt_dir[:120]!r}, outside {keys.checkpoints_prefix}")


def read_manifest(store: ObjectStore, ckpt_dir: str) -> Manifest:
    """A format-2/3 manifest (StoreFormatTooNew before anything else when its format is newer)."""
    body = store.get(ckpt_dir + MANIFEST).body
    try:
        doc = json.loads(body)
    except ValueError:
        raise CorruptCheckpoint(f"{ckpt_dir}{MANIFEST} is not JSON") from None
    check_format(doc.get("format") if isinstance(doc, dict) else None, ckpt_dir + MANIFEST)
    try:
        return Manifest.from_json(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptCheckpoint(f"{ckpt_dir}{MANIFEST} is malformed: {exc}") from None


def checkpoint_format(store: ObjectStore, pointer: Pointer) -> int:
    """The format of the checkpoint ``pointer`` names (looked up when the pointer does not say)."""
    if pointer.format is not None:
        return pointer.format
    try:
        store.head(pointer.dir + MANIFEST)
    except NotFound:
        return 1
    return 2


def cached_object(store: ObjectStore, key: str, sha256: str, cache_dir: Path) -> Path:
    """Download an immutable object once per machine into a content-addressed cache file.

    The file is pinned (engine/objcache.py) until the caller releases it: no eviction under a load."""
    objects = cache_dir / "objects"
    objects.mkdir(parents=True, exist_ok=True)
    path = objects / sha256
    pin(path)
    if path.exists():
        touch(path)
        return path
    tmp = objects / f".tmp-{uuid.uuid4().hex}"
    try:
        download = getattr(store, "download", None)
        if download is not None:  # streamed (S3) or hard-linked (directory): no copy in memory
            download(key, tmp)
        else:
            tmp.write_bytes(store.get(key).body)
        if sha256_of(tmp) != sha256:
            raise CorruptCheckpoint(f"checksum mismatch for {key}")
        os.replace(tmp, path)
    except BaseException:
        release(path)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return path


def fetch_checkpoint(store: ObjectStore, keys: NamespaceKeys, pointer: Pointer, cache_dir: Path) -> tuple[CheckpointMeta, Path, Path]:
    """Return (meta, local path of db.duckdb, local path of index.faiss), verified by sha256.
    The caller releases both paths (``objcache.release``) once loaded.

    The pointer must name a checkpoint of this namespace (``check_inside``)."""
    check_inside(keys, pointer.dir)
    meta = CheckpointMeta.from_json(store.get(pointer.dir + "meta.json").body)
    # Both files at once: on a remote store a cold start is mostly transfer time.
    with ThreadPoolExecutor(2) as pool:
        db = pool.submit(cached_object, store, pointer.dir + "db.duckdb", meta.db_sha256, cache_dir)
        index = pool.submit(cached_object, store, pointer.dir + "index.faiss", meta.index_sha256, cache_dir)
        done = [f.result() for f in (db, index) if f.exception() is None]
        if len(done) < 2:
            release(*done)
            db.result(), index.result()  # raises the failure
        return meta, done[0], done[1]


def publish_checkpoint(
    store: ObjectStore, keys: NamespaceKeys, meta: CheckpointMeta, db_file: Path, index_bytes: bytes
) -> Pointer | None:
    """Upload a snapshot and move the pointer to it. Returns the new pointer, or None if a newer one exists."""
    current = read_pointer(store, keys)
    if current is not None and current.seq >= meta.seq:
        return None
    ckpt_dir = keys.checkpoint_dir(meta.seq, uuid.uuid4().hex[:8])
    store.put(ckpt_dir + "db.duckdb", db_file.read_bytes(), IF_ABSENT)
    store.put(ckpt_dir + "index.faiss", index_bytes, IF_ABSENT)
    store.put(ckpt_dir + "meta.json", meta.to_json(), IF_ABSENT)
    return move_pointer(store, keys, Pointer(meta.seq, ckpt_dir), current)


def move_pointer(store: ObjectStore, keys: NamespaceKeys, new: Pointer, current: Pointer | None) -> Pointer | None:
    """Move ``CHECKPOINT`` from ``current`` to ``new`` by compare-and-swap; None if a pointer at
    ``new.seq`` or newer got there first."""
    body = new.to_json()
    for _ in range(20):
        condition = PutCondition(if_none_match=True) if current is None else PutCondition(if_match=current.etag)
        try:
            etag = store.put(keys.pointer, body, condition)
            return Pointer(new.seq, new.dir, etag, new.format)
        except PreconditionFailed:
            current = read_pointer(store, keys)
            if current is not None and current.seq >= new.seq:
                return None
    raise RuntimeError("could not move CHECKPOINT after 20 attempts")


@dataclass
class GcResult:
    log_deleted: int = 0
    checkpoints_deleted: int = 0
    kept_recent: int = 0
    reindex_deleted: int = 0
    blobs_deleted: int = 0
    segments_deleted: int = 0


_COMPLETE = ("meta.json", MANIFEST)  # a directory holding one of these is a checkpoint


def collect_garbage(store: ObjectStore, keys: NamespaceKeys, retention_seconds: float, now: float | None = None) -> GcResult:
    """Keep the current checkpoint, the previous one and the log since it; delete the rest once
    older than ``retention_seconds`` (the grace). A segment goes only when no kept manifest (nor
    one newer than the pointer: a compaction in flight) names it, and once it is past the grace."""
    now = time.time() if now is None else now
    result = GcResult()
    pointer = read_pointer(store, keys)
    if pointer is None:
        return result
    cutoff = now - retention_seconds
    dirs: dict[str, float] = {}
    complete: set[str] = set()
    for info in store.list(keys.checkpoints_prefix):
        d, name = keys.checkpoint_dir_of(info.key)
        dirs[d] = max(dirs.get(d, 0.0), info.last_modified)
        if name in _COMPLETE:
            complete.add(d)
    seq_of = {d: keys.seq_of_checkpoint_dir(d) for d in dirs}
    older = [(s, d) for d, s in seq_of.items() if d in complete and s is not None and s < pointer.seq]
    previous, previous_dir = max(older) if older else (0, None)
    for info in store.list(keys.log_prefix):
        seq = keys.seq_of_log(info.key)
        if seq is None or seq > previous:
            break
        if info.last_modified <= cutoff:
            store.delete(info.key)
            result.log_deleted += 1
        else:
            result.kept_recent += 1
    kept: list[str] = []
    for d, newest in dirs.items():
        # Kept: the current checkpoint, the previous one, and any newer (a compaction in flight).
        dir_seq = seq_of[d]
        if d in (pointer.dir, previous_dir) or dir_seq is None or dir_seq > pointer.seq:
            kept.append(d)
            continue
        if newest <= cutoff:
            for info in list(store.list(d)):
                store.delete(info.key)
            result.checkpoints_deleted += 1
        else:
            result.kept_recent += 1
            kept.append(d)
    result.segments_deleted = _collect_segments(store, keys, kept, cutoff)
    result.reindex_deleted = collect_reindex_garbage(store, keys, pointer.seq, cutoff)
    result.blobs_deleted = collect_blobs(store, keys, cutoff)
    collect_claims(store, keys, pointer.seq)
    return result


def _collect_segments(store: ObjectStore, keys: NamespaceKeys, kept_dirs: list[str], cutoff: float) -> int:
    """Delete segments no kept manifest names, once past the grace (a compaction in flight
    uploads its segments before its manifest: the grace covers it)."""
    infos = [i for i in store.list(keys.segments_prefix) if keys.segment_sha256(i.key) is not None and i.last_modified <= cutoff]
    if not infos:
        return 0
    named: set[str] = set()
    for d in kept_dirs:
        try:
            named.update(read_manifest(store, d).objects())
        except NotFound:
            continue  # format 1, or not written yet (then its segments are within the grace)
        except CorruptCheckpoint:
            return 0  # cannot tell what it names: delete nothing
    deleted = 0
    for info in infos:
        if keys.segment_sha256(info.key) not in named:
            store.delete(info.key)
            deleted += 1
    return deleted
