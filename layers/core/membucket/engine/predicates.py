"""SQL predicates over the ``memories`` table, compiled from the typed filters ops hold.

Ops describe *what* a caller asks for (``ops.filters.Filters``, ``ops.access.Visibility``,
``ops.export.ExportFilters``); this module is the one place that turns them into SQL text, so
no SQL is written above the engine. The shapes are structural (``Protocol``): the engine does not
import ops. Every predicate is exact: access rules are applied in SQL, never by over-fetching.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

__all__ = ["MemoryFilter", "VisibilityRules", "RangeFilter", "Predicate", "filter_sql", "visibility_sql", "range_sql", "KEPT_STATES"]

KEPT_STATES = ("active", "paused", "archived")  # every state but deleted
Predicate = tuple[str, list[object]]  # (SQL text, its parameters)


class MemoryFilter(Protocol):
    apps: list[str]
    categories: list[str]
    states: list[str]
    created_after: datetime | None
    created_before: datetime | None
    metadata: dict[str, Any]
    text: str | None


class VisibilityRules(Protocol):
    """Read-only members, so a frozen dataclass (``ops.access.Visibility``) satisfies it."""

    @property
    def deny_all(self) -> bool: ...
    @property
    def deny_ids(self) -> tuple[str, ...]: ...
    @property
    def deny_cats(self) -> tuple[str, ...]: ...
    @property
    def allow_list(self) -> bool: ...
    @property
    def allow_all(self) -> bool: ...
    @property
    def allow_ids(self) -> tuple[str, ...]: ...
    @property
    def allow_cats(self) -> tuple[str, ...]: ...


class RangeFilter(Protocol):
    app: str | None
    states: list[str]
    created_after: datetime | None
    created_before: datetime | None


def filter_sql(f: MemoryFilter, default_states: Sequence[str] = KEPT_STATES) -> Predicate:
    """The exact predicate of a search/list/delete-all filter (metadata keys are validated by ops)."""
    parts = ["list_contains(?, state)"]
    params: list[object] = [list(f.states or default_states)]
    if f.apps:
        parts.append("list_contains(?, app)")
        params.append(f.apps)
    if f.categories:
        parts.append("list_has_any(categories, ?::VARCHAR[])")
        params.append(f.categories)
    if f.created_after:
        parts.append("created_at >= ?")
        params.append(f.created_after)
    if f.created_before:
        parts.append("created_at < ?")
        params.append(f.created_before)
    for key, value in f.metadata.items():
        parts.append(f"json_extract(metadata, '$.\"{key}\"') = ?::JSON")
        params.append(json.dumps(value))
    if f.text:
        parts.append("contains(lower(text), lower(?))")
        params.append(f.text)
    return " AND ".join(parts), params


def visibility_sql(v: VisibilityRules) -> Predicate:
    """A predicate over ``memories`` that is true exactly for the rows an app's rules let it see."""
    if v.deny_all:
        return "false", []
    parts: list[str] = []
    params: list[object] = []
    if v.deny_ids:
        parts.append("NOT list_contains(?, id)")
        params.append(list(v.deny_ids))
    if v.deny_cats:
        parts.append("NOT list_has_any(categories, ?::VARCHAR[])")
        params.append(list(v.deny_cats))
        # not yet categorized (ops/pending.py): hidden until filed, fail closed
        parts.append("id NOT IN (SELECT memory_id FROM pending_categories)")
    if v.allow_list and not v.allow_all:
        parts.append("(list_contains(?, id) OR list_has_any(categories, ?::VARCHAR[]))")
        params += [list(v.allow_ids), list(v.allow_cats)]
    return (" AND ".join(parts) or "true"), params


def range_sql(f: RangeFilter) -> Predicate:
    """The predicate of an export's filters (every state, deleted included, unless named)."""
    where = ["true"]
    params: list[object] = []
    if f.app:
        where.append("app = ?")
        params.append(f.app)
    if f.states:
        where.append("state IN (" + ", ".join("?" * len(f.states)) + ")")
        params += f.states
    if f.created_after:
        where.append("created_at >= ?")
        params.append(f.created_after)
    if f.created_before:
        where.append("created_at < ?")
        params.append(f.created_before)
    return " AND ".join(where), params


def both(a: Predicate, b: Predicate) -> Predicate:
    return f"{a[0]} AND {b[0]}", a[1] + b[1]
