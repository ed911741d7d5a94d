"""Typed results of operations; ``to_dict()`` gives the JSON every surface returns."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Memory", "SearchHit", "AddEvent", "AddResult", "Page", "StateChange", "App", "Rule", "HistoryEvent", "AccessRecord"]


def iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Memory:
    id: str
    text: str
    state: str
    app: str | None
    categories: list[str]
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    archived_at: str | None = None
    deleted_at: str | None = None

    @classmethod
    def from_row(cls, row: tuple) -> "Memory":
        meta = row[5]
        return cls(
            id=row[0],
            text=row[1],
            state=row[2],
            app=row[3],
            categories=list(row[4] or []),
            metadata=json.loads(meta) if isinstance(meta, str) else (meta or {}),
            created_at=iso(row[6]),
            updated_at=iso(row[7]),
            archived_at=iso(row[8]),
            deleted_at=iso(row[9]),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchHit:
    id: str
    text: str
    score: float
    categories: list[str]
    created_at: str
    updated_at: str
    app: str | None
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AddEvent:
    id: str
    event: str  # ADD | UPDATE | DELETE (infer: no longer true) | NOOP (already known)
    text: str
    previous_text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class AddResult:
    events: list[AddEvent]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"results": [e.to_dict() for e in self.events]}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Page:
    items: list[Memory]
    total: int
    page: int
    size: int
    next_cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [m.to_dict() for m in self.items],
            "total": self.total,
            "page": self.page,
            "size": self.size,
            "pages": (self.total + self.size - 1) // self.size if self.size else 0,
            "next_cursor": self.next_cursor,
        }


@dataclass
class StateChange:
    state: str
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class App:
    name: str
    paused: bool
    created_at: str
    updated_at: str
    memories: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Rule:
    id: str
    app: str
    effect: str
    scope: str
    target: str | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HistoryEvent:
    memory_id: str
    seq: int
    event: str
    old_state: str | None
    new_state: str | None
    old_text: str | None
    new_text: str | None
    actor: str | None
    at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AccessRecord:
    app: str | None
    op: str
    query: str | None
    memory_id: str
    score: float | None
    at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
