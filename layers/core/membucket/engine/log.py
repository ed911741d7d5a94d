"""Log entries: one committed batch of operations, self-contained so replay never calls a model.

An entry is JSON::

    {"v": 1, "seq": 7, "txid": "<uuid>", "ts": "2026-11-25T11:00:00.000000Z",
     "actor": "cursor", "ops": [{"op": "memory.add", "id": ..., "vector": "<base64 f32>", ...}]}

``txid`` identifies one logical commit across its retries, so a writer whose PUT outcome was
ambiguous (a timeout after the object landed) recognises its own entry instead of writing twice.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

__all__ = ["LogEntry", "encode_vector", "decode_vector", "utcnow", "format_ts", "parse_ts", "CorruptEntry"]

FORMAT_VERSION = 1


class CorruptEntry(ValueError):
    """A log object that does not decode; replay stops before it rather than guess."""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def format_ts(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str) -> datetime:
    """Parse an ISO timestamp into naive UTC (the engine stores UTC without a zone)."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts


def encode_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


@dataclass
class LogEntry:
    seq: int
    ops: list[dict[str, Any]]
    actor: str | None = None
    txid: str = field(default_factory=lambda: uuid.uuid4().hex)
    ts: datetime = field(default_factory=utcnow)

    def encode(self) -> bytes:
        doc = {
            "v": FORMAT_VERSION,
            "seq": self.seq,
            "txid": self.txid,
            "ts": format_ts(self.ts),
            "actor": self.actor,
            "ops": self.ops,
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @classmethod
    def decode(cls, body: bytes, expected_seq: int | None = None) -> LogEntry:
        try:
            doc = json.loads(body)
            if doc.get("v") != FORMAT_VERSION:
                raise CorruptEntry(f"unsupported log format version {doc.get('v')!r}")
            entry = cls(
                seq=int(doc["seq"]),
                ops=list(doc["ops"]),
                actor=doc.get("actor"),
                txid=str(doc["txid"]),
                ts=parse_ts(doc["ts"]),
            )
        except CorruptEntry:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptEntry(f"undecodable log entry: {exc}") from exc
        if expected_seq is not None and entry.seq != expected_seq:
            raise CorruptEntry(f"log entry claims seq {entry.seq}, stored as {expected_seq}")
        return entry
