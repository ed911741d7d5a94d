"""Typed results of operations: the one set of models that REST and MCP answer directly.

They are pydantic models so the surfaces publish their schemas (OpenAPI, MCP output schemas)
from the same definitions the operations fill. ``to_dict()`` gives the JSON the CLI prints.
MCP answers narrower views of two of them (``MemoryItem``, ``Hit``: fewer tokens for a model
to read); each full model extends its view, so a field is declared once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, overload

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field

__all__ = [
    "Result", "MemoryItem", "Memory", "Hit", "SearchHit", "AddEvent", "AddResult", "Page", "StateChange", "App", "Rule",
    "HistoryEvent", "AccessRecord", "ImportResult", "MemoryStateName",
]

MemoryStateName = Literal["active", "paused", "archived", "deleted"]


@overload
def iso(ts: datetime) -> str: ...
@overload
def iso(ts: None) -> None: ...
@overload
def iso(ts: datetime | None) -> str | None: ...
def iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Result(BaseModel):
    """A result model: fields may also be given by position (operations build them from rows)."""

    model_config = ConfigDict(serialize_by_alias=True, json_schema_serialization_defaults_required=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            names = list(type(self).model_fields)
            if len(args) > len(names):
                raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
            kwargs.update(zip(names, args))
        super().__init__(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class MemoryItem(Result):
    """A memory as MCP shows it."""

    id: str
    text: str
    state: MemoryStateName
    app: str | None = Field(description="The app that created it; the owner's writes through a server carry the surface "
                                        "('web-ui', 'rest-api': labels, not apps); null for the owner otherwise")
    categories: list[str]
    metadata: dict[str, Any]
    created_at: str = Field(description="ISO-8601 UTC")
    updated_at: str


class Memory(MemoryItem):
    archived_at: str | None = None
    deleted_at: str | None = None

    @classmethod
    def from_row(cls, row: tuple) -> Memory:
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

    def item(self) -> MemoryItem:
        """The MCP view of this memory."""
        return MemoryItem(**self.model_dump(include=set(MemoryItem.model_fields)))


class Hit(Result):
    """A search hit as MCP shows it."""

    id: str
    text: str
    score: float
    categories: list[str]
    created_at: str
    app: str | None = None


class SearchHit(Hit):
    app: str | None
    updated_at: str
    metadata: dict[str, Any]

    def hit(self) -> Hit:
        """The MCP view of this hit."""
        return Hit(**self.model_dump(include=set(Hit.model_fields)))

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        return {k: d[k] for k in ("id", "text", "score", "categories", "created_at", "updated_at", "app", "metadata")}


class AddEvent(Result):
    id: str
    event: Literal["ADD", "UPDATE", "DELETE", "NOOP"]  # DELETE (infer: no longer true), NOOP (already known)
    text: str
    previous_text: str | None = None
    similar: list[str] | None = None  # an ADD beside near duplicates (cosine >= the threshold): the caller decides

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in super().to_dict().items() if v is not None}


class AddResult(Result):
    # Operations build it with ``events=``; every surface answers ``results``.
    results: list[AddEvent] = Field(validation_alias=AliasChoices("results", "events"))
    note: str | None = None

    @property
    def events(self) -> list[AddEvent]:
        return self.results

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"results": [e.to_dict() for e in self.events]}
        if self.note:
            out["note"] = self.note
        return out


class Page(Result):
    items: list[Memory]
    total: int
    page: int
    size: int
    next_cursor: str | None = Field(
        None, description="Pass as ?cursor= for the next page (stable keyset paging); null on the last page"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pages(self) -> int:
        return (self.total + self.size - 1) // self.size if self.size else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [m.to_dict() for m in self.items],
            "total": self.total,
            "page": self.page,
            "size": self.size,
            "pages": self.pages,
            "next_cursor": self.next_cursor,
        }


class StateChange(Result):
    state: MemoryStateName
    changed: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)


class App(Result):
    name: str
    paused: bool
    created_at: str
    updated_at: str
    memories: int = Field(0, description="Non-deleted memories this app created")


class Rule(Result):
    id: str
    app: str
    effect: Literal["allow", "deny"]
    scope: Literal["all", "memory", "category"]
    target: str | None
    created_at: str


class HistoryEvent(Result):
    memory_id: str
    seq: int
    event: str
    old_state: str | None
    new_state: str | None
    old_text: str | None
    new_text: str | None
    actor: str | None
    at: str


class AccessRecord(Result):
    app: str | None
    op: str
    query: str | None
    memory_id: str
    score: float | None
    at: str


class ImportResult(Result):
    mode: Literal["merge", "replace"]
    added: int = 0
    updated: int = 0
    skipped: int = 0
    purged: int = 0
    seq: int = 0
    format: Literal["membucket", "openmemory"] = "membucket"
