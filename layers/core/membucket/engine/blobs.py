"""Content-addressed side objects for bulk imports: rows and vectors too large for one log entry.

A log entry is one JSON object that every replica downloads and parses whole; 100k memories
with base64 vectors would make it ~200 MB. A bulk import therefore uploads its rows in parts
of a few thousand memories each, under ``ns/<user>/blobs/<sha256>.bin``, *before* it commits,
and the committed entry names the parts by digest. Until that entry exists the parts are
invisible (nothing lists them), so a failed import leaves no half state, and a retried one
re-uses the same objects (same content, same key). Replay fetches each part, checks its digest,
and applies it, so replay stays deterministic: the objects are immutable.

Part layout: ``MBP1`` | 8-byte big-endian length | JSON ``{"dim", "rows"}`` | float32 LE vectors
(``len(rows) * dim``), one per row in order. Rows carry every memory field plus its history.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

import numpy as np

from ..store import ObjectStore
from .keys import NamespaceKeys
from .log import LogEntry
from .operations import MemoryImport, op_name

__all__ = ["encode_part", "decode_part", "PART_MAGIC"]

PART_MAGIC = b"MBP1"


def encode_part(rows: list[dict[str, Any]], vectors: np.ndarray) -> tuple[bytes, str]:
    """(body, sha256 hex) of one part."""
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    if vectors.ndim != 2 or vectors.shape[0] != len(rows):
        raise ValueError(f"{len(rows)} rows but vectors of shape {vectors.shape}")
    head = json.dumps({"dim": int(vectors.shape[1]), "rows": rows}, separators=(",", ":"), ensure_ascii=False).encode()
    body = PART_MAGIC + struct.pack(">Q", len(head)) + head + vectors.tobytes()
    return body, hashlib.sha256(body).hexdigest()


def decode_part(body: bytes, sha256: str | None = None) -> tuple[list[dict[str, Any]], np.ndarray]:
    if sha256 is not None and hashlib.sha256(body).hexdigest() != sha256:
        raise ValueError("import part does not match its digest")
    if body[:4] != PART_MAGIC:
        raise ValueError("not an import part")
    (n,) = struct.unpack(">Q", body[4:12])
    doc = json.loads(body[12 : 12 + n])
    rows: list[dict[str, Any]] = doc["rows"]
    dim = int(doc["dim"])
    vectors = np.frombuffer(body, dtype="<f4", offset=12 + n).reshape(len(rows), dim)
    return rows, vectors


def referenced_blobs(store: ObjectStore, keys: NamespaceKeys) -> set[str]:
    """Digests named by the log entries still in the bucket."""
    out: set[str] = set()
    for info in store.list(keys.log_prefix):
        seq = keys.seq_of_log(info.key)
        if seq is None:
            continue
        try:
            entry = LogEntry.decode(store.get(info.key).body, seq)
        except Exception:  # NotFound (GC racing) or undecodable: keep everything to be safe
            return {"*"}
        for op in entry.ops:
            if op_name(op) == MemoryImport.OP:
                out.update(p["sha256"] for p in (op.get("parts") or []) + (op.get("history_parts") or []))
    return out


def collect_blobs(store: ObjectStore, keys: NamespaceKeys, cutoff: float) -> int:
    """Delete parts older than ``cutoff`` that no remaining log entry names; return how many.

    A part is needed only to replay the entry that names it; once that entry is gone (GC removes
    entries only below a checkpoint and after the retention period) no replica can ask for it.
    An upload whose commit never happened is removed the same way, after the retention period.
    """
    old = [info for info in store.list(keys.blobs_prefix) if info.last_modified <= cutoff]
    if not old:
        return 0
    keep = referenced_blobs(store, keys)
    if "*" in keep:
        return 0
    deleted = 0
    for info in old:
        digest = info.key.rsplit("/", 1)[-1].split(".", 1)[0]
        if digest not in keep:
            store.delete(info.key)
            deleted += 1
    return deleted
