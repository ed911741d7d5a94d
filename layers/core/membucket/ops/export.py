"""Export one user's memory as a bundle: a zip of JSONL parts plus a manifest, optionally encrypted.

Bundle (``membucket-<user>-<seq>.zip``)::

    memories.jsonl    one memory per line, every field, vector as base64 float32 LE
    apps.jsonl        {name, paused, created_at, updated_at}
    rules.jsonl       {id, app, effect, scope, target, created_at}
    history.jsonl     {memory_id, seq, event, old_state, new_state, old_text, new_text, actor, changed_at}
    access_log.jsonl  {app, op, query, memory_id, score, at}
    manifest.json     written last: schema version, user, the namespace seq the bundle reflects,
                      embedder id and dimension, filters, counts, and sha256 + size of every part

Rows are read from the replica in pages and written straight into the zip stream, so memory
stays bounded whatever the namespace's size (the replica itself is already in memory). The
replica's lock is held for the whole export, so every part reflects the same seq. With a
passphrase the zip stream goes through ``encryption.EncryptingWriter`` (``.mbx``).

The export writes only to the file object it is given: the CLI's is a path its user chose,
REST streams a temporary file, the Lambda function uploads to the backup bucket.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from ..engine import exports
from ..engine.keys import validate_app_name
from ..engine.log import encode_vector, utcnow
from ..errors import InvalidInput
from .access import ingest_access_log
from .context import Context
from .filters import parse_time
from .models import iso
from .validate import clean_state

__all__ = ["export_bundle", "ExportFilters", "bundle_filename", "SCHEMA_VERSION", "FORMAT", "PARTS", "Progress"]

FORMAT = "membucket-export"
SCHEMA_VERSION = 1
PARTS = ("memories.jsonl", "apps.jsonl", "rules.jsonl", "history.jsonl", "access_log.jsonl")
PAGE = 2000

# progress(stage, done, total): stages "memories", "history", ... ; total may be None
Progress = Callable[[str, int, "int | None"], None]


@dataclass
class ExportFilters:
    app: str | None = None
    states: list[str] = field(default_factory=list)  # empty: every state, deleted included
    created_after: datetime | None = None
    created_before: datetime | None = None

    @classmethod
    def parse(cls, app=None, states: Sequence[str] | None = None, created_after=None, created_before=None) -> ExportFilters:
        return cls(
            app=validate_app_name(app) if app else None,
            states=[clean_state(s) for s in (states or [])],
            created_after=parse_time(created_after, "created_after"),
            created_before=parse_time(created_before, "created_before"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"app": self.app, "state": self.states or None, "created_after": iso(self.created_after), "created_before": iso(self.created_before)}


def bundle_filename(user: str, seq: int, encrypted: bool) -> str:
    return f"membucket-{user}-{seq}.{'mbx' if encrypted else 'zip'}"


class _HashingPart:
    """Buffered JSONL writer into one zip member, hashing what it writes."""

    def __init__(self, zf: zipfile.ZipFile, name: str) -> None:
        self._f = zf.open(name, "w", force_zip64=True)
        self._h = hashlib.sha256()
        self._buf: list[bytes] = []
        self._pending = 0
        self.rows = 0
        self.bytes = 0

    def row(self, obj: dict) -> None:
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        self._buf.append(line)
        self._pending += len(line)
        self.rows += 1
        if self._pending >= 1 << 20:
            self._flush()

    def _flush(self) -> None:
        data = b"".join(self._buf)
        self._h.update(data)
        self._f.write(data)
        self.bytes += len(data)
        self._buf, self._pending = [], 0

    def close(self) -> dict:
        self._flush()
        self._f.close()
        return {"sha256": self._h.hexdigest(), "bytes": self.bytes, "rows": self.rows}


def export_bundle(
    ctx: Context,
    out: BinaryIO,
    *,
    filters: ExportFilters | None = None,
    passphrase: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the caller's bundle to ``out``; return its manifest. Owner only (``ctx.app`` is None)."""
    if ctx.app is not None:
        from ..errors import Forbidden

        raise Forbidden("export is for the namespace owner, not an app")
    if passphrase is not None and not passphrase:
        raise InvalidInput("the passphrase is empty")
    filters = filters or ExportFilters()
    progress = progress or (lambda stage, done, total: None)
    writer = None
    if passphrase:
        from .encryption import EncryptingWriter

        writer = EncryptingWriter(out, passphrase)
    with ctx.ns.read() as rep:
        ingest_access_log(ctx, rep)
        total = exports.count(rep, filters)
        manifest: dict[str, Any] = {
            "format": FORMAT, "schema_version": SCHEMA_VERSION, "user": ctx.user, "seq": rep.seq,
            "embedder": rep.embedder, "dim": rep.dim, "exported_at": iso(utcnow()),
            "filters": filters.to_dict(), "vector_encoding": "base64-float32-le", "parts": {}, "counts": {},
        }
        with zipfile.ZipFile(writer or out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as zf:
            part = _HashingPart(zf, "memories.jsonl")
            for r in exports.memories(rep, filters):
                part.row({
                    "id": r[0], "text": r[1], "hash": r[2], "state": r[3], "app": r[4], "categories": list(r[5] or []),
                    "metadata": json.loads(r[6]) if isinstance(r[6], str) else (r[6] or {}), "created_at": iso(r[7]),
                    "updated_at": iso(r[8]), "archived_at": iso(r[9]), "deleted_at": iso(r[10]), "vector": encode_vector(_f32(r[11])),
                })
                if part.rows % PAGE == 0:
                    progress("memories", part.rows, total)
            manifest["parts"]["memories.jsonl"] = part.close()
            progress("memories", part.rows, total)
            shapes = {
                "apps.jsonl": lambda r: {"name": r[0], "paused": bool(r[1]), "created_at": iso(r[2]), "updated_at": iso(r[3])},
                "rules.jsonl": lambda r: {"id": r[0], "app": r[1], "effect": r[2], "scope": r[3], "target": r[4], "created_at": iso(r[5])},
                "history.jsonl": lambda r: {"memory_id": r[0], "seq": r[1], "event": r[2], "old_state": r[3], "new_state": r[4],
                                            "old_text": r[5], "new_text": r[6], "actor": r[7], "changed_at": iso(r[8])},
                "access_log.jsonl": lambda r: {"app": r[0], "op": r[1], "query": r[2], "memory_id": r[3], "score": r[4], "at": iso(r[5])},
            }
            for name, shape in shapes.items():
                part = _HashingPart(zf, name)
                for r in exports.part_rows(rep, name.split(".")[0], filters):
                    part.row(shape(r))
                manifest["parts"][name] = part.close()
                progress(name.split(".")[0], part.rows, part.rows)
            manifest["counts"] = {name.split(".")[0]: info["rows"] for name, info in manifest["parts"].items()}
            zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    if writer is not None:
        writer.close()
    return manifest


def _f32(blob: bytes):
    import numpy as np

    return np.frombuffer(blob, dtype="<f4")

