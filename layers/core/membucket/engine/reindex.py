"""Switching a namespace to another embedder: the vector-pack format and its GC.

A reindex (ops/reindex.py) re-embeds every memory's text and commits ONE log entry::

    {"op": "embedder.switch", "embedder": "<id>", "dim": 384,
     "vectors_key": "ns/<user>/reindex/<target>/vectors/<sha256>.bin", "sha256": "<sha256>",
     "inline": {"digests": ["<sha256 of a text>", ...], "vectors": ["<base64 f32>", ...]}}

Vectors are keyed by the sha256 of the memory's exact text, not by memory id: the pack made from
a replica at sequence S still serves every memory whose text has not changed since, and the few
texts added or edited between S and the commit travel ``inline``. Replay looks each memory's text
up (all states, deleted included, so a restored memory has a vector of the right size), replaces
every vector in DuckDB, swaps the embedder id and dimension and rebuilds the FAISS index: from
the same objects, every replica ends in the same state. A text with no vector fails the replay
(the writer guarantees coverage at commit time; a bad entry must not half-switch a replica).

Pack format (little-endian): ``b"MBV1"``, u32 n, u32 dim, n x 32-byte sha256 digests, n x dim
float32. A pack's key is the sha256 of its bytes, so equal content is written once. The op is
``engine/operations.EmbedderSwitch``; replay applies it in ``engine/replay.py``.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable

import numpy as np

from ..store import NotFound, ObjectStore
from .keys import NamespaceKeys

__all__ = ["text_digest", "pack", "unpack", "collect_reindex_garbage", "iter_pack_keys"]

_MAGIC = b"MBV1"
_HEADER = struct.Struct("<4sII")


def text_digest(text: str) -> bytes:
    """The key a memory's vector is found by: sha256 of its exact stored text."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def pack(digests: list[bytes], vectors: np.ndarray) -> bytes:
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    n = len(digests)
    if vectors.shape[0] != n or (n and vectors.ndim != 2):
        raise ValueError(f"{n} digests but vectors of shape {vectors.shape}")
    dim = int(vectors.shape[1]) if n else 0
    return _HEADER.pack(_MAGIC, n, dim) + b"".join(digests) + vectors.tobytes()


def unpack(body: bytes, dim: int | None = None) -> tuple[list[bytes], np.ndarray]:
    """(digests, (n, dim) float32 vectors); refuses a truncated pack or one of another dimension."""
    if len(body) < _HEADER.size:
        raise ValueError("vector pack too short")
    magic, n, d = _HEADER.unpack_from(body)
    if magic != _MAGIC:
        raise ValueError("not a vector pack")
    if len(body) != _HEADER.size + n * 32 + n * d * 4:
        raise ValueError("vector pack truncated")
    if n and dim is not None and d != dim:
        raise ValueError(f"vector pack has {d} dimensions, expected {dim}")
    start = _HEADER.size
    digests = [body[start + 32 * i : start + 32 * (i + 1)] for i in range(n)]
    vectors = np.frombuffer(body, dtype="<f4", offset=start + 32 * n, count=n * d).reshape(n, d).astype(np.float32)
    return digests, vectors


def _dirs(store: ObjectStore, prefix: str) -> dict[str, float]:
    """Each target directory under ``prefix`` with the time of its newest object."""
    dirs: dict[str, float] = {}
    for info in store.list(prefix):
        d = prefix + info.key[len(prefix):].split("/", 1)[0] + "/"
        dirs[d] = max(dirs.get(d, 0.0), info.last_modified)
    return dirs


def collect_reindex_garbage(store: ObjectStore, keys: NamespaceKeys, pointer_seq: int, cutoff: float) -> int:
    """Delete finished reindex directories: switched at or below the checkpoint, and older than retention.

    The same rule as for log entries: once the checkpoint is past the switch, no replica replays
    it (a replica behind reloads from the checkpoint). Unfinished runs are kept, to be resumed.
    """
    deleted = 0
    for d, newest in _dirs(store, keys.reindex_prefix).items():
        try:
            progress = json.loads(store.get(keys.reindex_progress(d)).body)
        except (NotFound, ValueError):
            continue
        switched = progress.get("switched_seq")
        if switched is None or int(switched) > pointer_seq or newest > cutoff:
            continue
        for info in list(store.list(d)):
            store.delete(info.key)
        deleted += 1
    return deleted


def iter_pack_keys(store: ObjectStore, target_dir: str) -> Iterable[tuple[str, str]]:
    """(key, sha256) of every part written for a target so far."""
    for info in store.list(f"{target_dir}parts/"):
        name = info.key.rsplit("/", 1)[-1]
        if name.endswith(".bin") and len(name) == 68:
            yield info.key, name[:-4]
