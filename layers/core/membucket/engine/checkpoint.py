"""Checkpoints: the full state of a namespace at one sequence, as immutable objects plus a pointer.

Write protocol (compaction), numbered as in DESIGN.md:

1. Sync the replica to sequence S and snapshot it (DuckDB file, FAISS index).
2. PUT ``checkpoints/<S>-<tag>/db.duckdb`` and ``index.faiss`` (a fresh tag per attempt, so a
   writer killed half-way leaves only an orphan directory that GC removes later).
3. PUT ``meta.json`` (seq, counts, sha256 of both files, embedder id and dimension) last:
   a checkpoint without meta does not exist for readers.
4. Move ``CHECKPOINT`` with If-Match on the ETag read (If-None-Match when absent). 412 → re-read;
   a pointer already at S or newer is left alone. Readers only ever follow the pointer.

Garbage collection deletes log entries at or below the pointer's sequence, and checkpoints other
than the current one, only once they are older than the retention period; likewise the files of a
finished reindex (engine/reindex.py) once the checkpoint is past its switch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..store import IF_ABSENT, NotFound, ObjectStore, PreconditionFailed, PutCondition
from .blobs import collect_blobs
from .claims import collect_claims
from .keys import NamespaceKeys
from .objcache import pin, release, touch
from .reindex import collect_reindex_garbage

__all__ = ["Pointer", "CheckpointMeta", "read_pointer", "fetch_checkpoint", "cached_object", "publish_checkpoint", "collect_garbage", "GcResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pointer:
    seq: int
    dir: str
    etag: str | None = None


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
    return Pointer(seq=int(doc["seq"]), dir=str(doc["dir"]), etag=res.etag)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
        if _sha256_file(tmp) != sha256:
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

    The pointer must name a checkpoint of this namespace: a pointer written into the bucket by
    hand (or a tampered restore) can never load another user's data."""
    inside = pointer.dir.startswith(keys.checkpoints_prefix) and pointer.dir.endswith("/")
    if not inside or ".." in pointer.dir or "/" in pointer.dir[len(keys.checkpoints_prefix):-1]:
        raise CorruptCheckpoint(f"CHECKPOINT of {keys.root} names {pointer.dir[:120]!r}, outside {keys.checkpoints_prefix}")
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
    body = json.dumps({"seq": meta.seq, "dir": ckpt_dir}).encode()
    for _ in range(20):
        condition = PutCondition(if_none_match=True) if current is None else PutCondition(if_match=current.etag)
        try:
            etag = store.put(keys.pointer, body, condition)
            return Pointer(meta.seq, ckpt_dir, etag)
        except PreconditionFailed:
            current = read_pointer(store, keys)
            if current is not None and current.seq >= meta.seq:
                return None
    raise RuntimeError("could not move CHECKPOINT after 20 attempts")


@dataclass
class GcResult:
    log_deleted: int = 0
    checkpoints_deleted: int = 0
    kept_recent: int = 0
    reindex_deleted: int = 0
    blobs_deleted: int = 0


def collect_garbage(store: ObjectStore, keys: NamespaceKeys, retention_seconds: float, now: float | None = None) -> GcResult:
    """Delete superseded log entries and checkpoints older than the retention period."""
    now = time.time() if now is None else now
    result = GcResult()
    pointer = read_pointer(store, keys)
    if pointer is None:
        return result
    cutoff = now - retention_seconds
    for info in store.list(keys.log_prefix):
        seq = keys.seq_of_log(info.key)
        if seq is None or seq > pointer.seq:
            break
        if info.last_modified <= cutoff:
            store.delete(info.key)
            result.log_deleted += 1
        else:
            result.kept_recent += 1
    dirs: dict[str, float] = {}
    for info in store.list(keys.checkpoints_prefix):
        d, _ = keys.checkpoint_dir_of(info.key)
        dirs[d] = max(dirs.get(d, 0.0), info.last_modified)
    for d, newest in dirs.items():
        # Never touch the current checkpoint, nor one newer than it (a compaction in flight).
        dir_seq = keys.seq_of_checkpoint_dir(d)
        if d == pointer.dir or dir_seq is None or dir_seq > pointer.seq:
            continue
        if newest <= cutoff:
            for info in list(store.list(d)):
                store.delete(info.key)
            result.checkpoints_deleted += 1
        else:
            result.kept_recent += 1
    result.reindex_deleted = collect_reindex_garbage(store, keys, pointer.seq, cutoff)
    result.blobs_deleted = collect_blobs(store, keys, cutoff)
    collect_claims(store, keys, pointer.seq)
    return result
