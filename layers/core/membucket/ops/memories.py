"""Read and edit single memories: list, get, update (re-embeds), history, related."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..engine import queries
from ..engine.keys import validate_memory_id
from ..engine.log import encode_vector, parse_ts
from ..engine.namespace import Plan
from ..engine.operations import MemoryUpdate
from ..errors import IllegalTransition, InvalidInput, NotFoundError
from .access import Visibility, app_exists, check_app, ensure_app, record_access
from .context import Context, check_embedder
from .filters import Filters
from .models import HistoryEvent, Memory, Page, SearchHit, iso
from .pending import after_commit, categorize_now, pending_op
from .search import search_vector
from .validate import clean_categories, clean_limit, clean_metadata, clean_text, text_hash

__all__ = ["list_memories", "get", "update", "history", "related", "SORTS"]

SORTS = {"created_at", "updated_at", "text", "app", "state"}
NULLABLE_SORTS = {"app"}  # owner-written memories have no app
APP_STATES = ("active",)  # apps only ever see active memories


def _scope(ctx: Context, filters: Filters) -> Filters | None:
    """The filters an app may use: apps see active memories only (None: it asked for none of them)."""
    if ctx.app is None:
        return filters
    states = [s for s in (filters.states or APP_STATES) if s in APP_STATES]
    return Filters(**{**filters.__dict__, "states": states}) if states else None


def _encode_cursor(sort: str, value: Any, mid: str) -> str:
    raw = json.dumps({"s": sort, "v": value if not hasattr(value, "isoformat") else value.isoformat(), "id": mid})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    """The (sort value, id) a cursor points after; InvalidInput for anything we did not issue."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(doc, dict) or doc.get("s") != sort:
            raise ValueError("cursor was made for another sort")
        value, mid = doc["v"], validate_memory_id(doc["id"])
        if sort in ("created_at", "updated_at"):
            if not isinstance(value, str):
                raise ValueError("bad time")
            value = parse_ts(value)
        elif not (isinstance(value, str) or (value is None and sort in NULLABLE_SORTS)):
            raise ValueError("bad value")
        return value, mid
    except (ValueError, KeyError, TypeError, OverflowError, InvalidInput) as exc:
        raise InvalidInput(f"invalid cursor: {str(exc)[:80]}") from None


def list_memories(
    ctx: Context,
    *,
    filters: Filters | None = None,
    sort: str = "created_at",
    order: str = "desc",
    page: int = 1,
    size: int = 50,
    cursor: str | None = None,
) -> Page:
    """A page of memories with the total; ``cursor`` (from ``next_cursor``) pages stably by keyset."""
    filters = filters or Filters()
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort!r}; expected one of {', '.join(sorted(SORTS))}")
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be 'asc' or 'desc'")
    size = clean_limit(size, ctx.settings.max_batch, "size")
    page = clean_limit(page, 10**9, "page")
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app)
        known = ctx.app is None or app_exists(rep, ctx.app)
        scoped = _scope(ctx, filters)
        after = _decode_cursor(cursor, sort) if cursor else None
        offset = 0 if cursor else (page - 1) * size
        total, rows = 0, list[tuple[Any, ...]]()
        if scoped is not None:
            total, rows = queries.list_page(
                rep, scoped, vis, sort=sort, order=order, limit=size + 1, offset=offset, after=after,
                nullable=sort in NULLABLE_SORTS,
            )
    more = len(rows) > size
    rows = rows[:size]
    items = [Memory.from_row(r) for r in rows]
    next_cursor = _encode_cursor(sort, rows[-1][-1], rows[-1][0]) if more and rows else None
    if not known:
        ensure_app(ctx)
    record_access(ctx, "list", None, [(m.id, None) for m in items])
    return Page(items=items, total=int(total), page=page, size=size, next_cursor=next_cursor)


def _load(ctx: Context, rep, memory_id: str, vis: Visibility) -> Memory:
    row = queries.memory(rep, memory_id)
    if row is None:
        raise NotFoundError(f"memory {memory_id} not found", id=memory_id)
    mem = Memory.from_row(row)
    if ctx.app is not None and (mem.state not in APP_STATES or not vis.allows_row(rep, mem.id, mem.categories)):
        raise NotFoundError(f"memory {memory_id} not found", id=memory_id)  # never confirm what an app may not see
    return mem


def get(ctx: Context, memory_id: str) -> Memory:
    memory_id = validate_memory_id(memory_id)
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app)
        mem = _load(ctx, rep, memory_id, vis)
    record_access(ctx, "get", None, [(mem.id, None)])
    return mem


def update(
    ctx: Context,
    memory_id: str,
    *,
    text: str | None = None,
    metadata: dict[str, Any] | None = None,
    categories: Sequence[str] | None = None,
) -> Memory:
    """Edit a memory; new text is re-embedded, so every surface searches the same thing."""
    memory_id = validate_memory_id(memory_id)
    s = ctx.settings
    if text is None and metadata is None and categories is None:
        raise InvalidInput("nothing to update: give text, metadata or categories")
    op = MemoryUpdate(id=memory_id)
    pending = False
    if text is not None:
        text = clean_text(text, s)
        vector = ctx.embed_one(text)
        op = replace(op, text=text, hash=text_hash(text), vector=encode_vector(vector))
        if categories is None and ctx.categorizer is not None:
            cats, pending = categorize_now(ctx, text, vector)
            if not pending:
                op = replace(op, categories=cats)
    if metadata is not None:
        op = replace(op, metadata=clean_metadata(metadata, s))
    if categories is not None:
        op = replace(op, categories=clean_categories(categories, s))

    def build(rep) -> Plan:
        vis = check_app(rep, ctx.app, write=True)
        check_embedder(ctx, rep)
        mem = _load(ctx, rep, memory_id, vis)
        if mem.state == "deleted":
            raise IllegalTransition(f"memory {memory_id} is deleted and cannot be edited", id=memory_id)
        same_text = op.hash is not None and queries.memory_hash(rep, memory_id) == op.hash
        if same_text and categories is None:  # text not changed: the categories stay as they are
            return Plan([op.without_categories()], memory_id)
        return Plan([op] + ([pending_op([memory_id])] if pending else []), memory_id)

    ctx.ns.commit(build, actor=ctx.who)
    if pending:
        after_commit(ctx, [memory_id])
    with ctx.ns.read() as rep:
        row = queries.memory(rep, memory_id)
    assert row is not None, "the memory was just written under the namespace lock"
    return Memory.from_row(row)


def history(ctx: Context, memory_id: str) -> list[HistoryEvent]:
    """Every add, edit and state change of a memory, oldest first, with actor and time."""
    memory_id = validate_memory_id(memory_id)
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app)
        _load(ctx, rep, memory_id, vis)
        rows = queries.history(rep, memory_id)
    return [
        HistoryEvent(
            memory_id=r[0], seq=r[1], event=r[2], old_state=r[3], new_state=r[4], old_text=r[5], new_text=r[6],
            actor=r[7], at=iso(r[8]),
        )
        for r in rows
    ]


def related(ctx: Context, memory_id: str, *, limit: int = 5) -> list[SearchHit]:
    """Memories most similar to this one (itself excluded), under the same access rules."""
    memory_id = validate_memory_id(memory_id)
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app)
        _load(ctx, rep, memory_id, vis)
        blob = queries.memory_vector(rep, memory_id)
    assert blob is not None, "_load found the memory under the same read"
    vector = np.frombuffer(blob, dtype="<f4")
    return search_vector(ctx, vector, limit=limit, exclude=memory_id, op="related")
