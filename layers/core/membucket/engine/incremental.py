"""Writing a segmented (format-3) checkpoint from a replica: diff against the base, upload, then the manifest.

``prepare`` runs under the replica's lock (it reads the replica's tables): it reads the base
manifest (the checkpoint ``CHECKPOINT`` names; none, or a format-1 one, means a full write: the
upgrade), makes sure the base's segments are on this machine (the object cache, fetched
concurrently) and writes one delta file per changed table. ``upload`` runs outside the lock: it
merges the size tiers (from immutable files only), then uploads the new segments (If-None-Match;
412 = already there) and the manifest under a fresh directory. Moving the
pointer is the caller's (``checkpoint.move_pointer``), or a restore's, which commits a log entry
naming the directory first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..store import IF_ABSENT, ObjectStore
from .checkpoint import Pointer, cached_object, checkpoint_format, read_manifest
from .keys import NamespaceKeys
from .objcache import release
from .segments import MANIFEST, Built, Manifest, Segment, build_manifest, fetch_segments, merge_tiers, upload_segments

if TYPE_CHECKING:  # pragma: no cover
    from .replica import Replica

__all__ = ["Prepared", "prepare", "upload"]


@dataclass
class Prepared:
    built: Built
    pinned: list[Path] = field(default_factory=list)  # the base's files
    bytes_uploaded: int = 0

    @property
    def manifest(self) -> Manifest:
        return self.built.manifest

    def release(self) -> None:
        pins, self.pinned = self.pinned + self.built.pinned, []
        self.built.pinned = []
        release(*pins)


def prepare(store: ObjectStore, keys: NamespaceKeys, rep: Replica, base: Pointer | None) -> Prepared:
    """The diff of ``rep`` against ``base``, as new delta files (caller holds ``rep.lock``)."""
    rep.save_kv()
    base_manifest = read_manifest(store, base.dir) if base is not None and checkpoint_format(store, base) >= 2 else None
    pins: list[Path] = []

    def base_files(segs: list[Segment]) -> list[Path]:
        files = fetch_segments(store, keys, [o for s in segs for o in s.objects()], rep.cache_dir, cached_object)
        pins.extend(files)
        return files

    try:
        kv = {"seq": rep.seq, "embedder": rep.embedder, "dim": rep.dim, "next_vid": rep.next_vid, "access_after": rep.access_after}
        built = build_manifest(rep.con, kv, base_manifest, base_files, rep.cache_dir)
        counts = rep.con.execute("SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM memories").fetchone()
        assert counts is not None, "an aggregate returns one row"
        built.manifest.memories, built.manifest.active = int(counts[0]), int(counts[1])
    except BaseException:
        release(*pins)
        raise
    return Prepared(built=built, pinned=pins)


def upload(store: ObjectStore, keys: NamespaceKeys, prepared: Prepared) -> Pointer:
    """Merge the tiers (no lock needed: only immutable files are read), upload the new segments,
    then the manifest; return a pointer to it (not yet moved)."""
    built = prepared.built
    merge_tiers(built)
    named = set(built.manifest.objects())
    new = {sha: path for sha, path in built.new.items() if sha in named}  # not a delta merged away at once
    prepared.bytes_uploaded += upload_segments(store, keys, new)
    ckpt_dir = keys.checkpoint_dir(prepared.manifest.seq, uuid.uuid4().hex[:8])
    body = prepared.manifest.to_json()
    store.put(ckpt_dir + MANIFEST, body, IF_ABSENT)
    prepared.bytes_uploaded += len(body)
    return Pointer(seq=prepared.manifest.seq, dir=ckpt_dir, format=prepared.manifest.format)
