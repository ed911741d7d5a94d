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


class _Clauses:
    """SQL clauses AND-ed in the order added, with their parameters in the same order."""

    def __init__(self, *first: str) -> None:
        self.parts: list[str] = list(first)
        self.params: list[object] = []

    def add(self, sql: str, *params: object) -> None:
        self.parts.append(sql)
        self.params += params

    def when(self, value: object, sql: str) -> None:
        """``sql`` with ``value`` as its one parameter, only when ``value`` is set (a tuple binds as a
        list: DuckDB takes a list for ``list_contains``/``list_has_any``)."""
        if value:
            self.add(sql, list(value) if isinstance(value, tuple) else value)

    def predicate(self) -> Predicate:
        return (" AND ".join(self.parts) or "true"), self.params


def filter_sql(f: MemoryFilter, default_states: Sequence[str] = KEPT_STATES) -> Predicate:
    """The exact predicate of a search/list/delete-all filter (metadata keys are validated by ops)."""
    where = _Clauses()
    where.add("list_contains(?, state)", list(f.states or default_states))
    where.when(f.apps, "list_contains(?, app)")
    where.when(f.categories, "list_has_any(categories, ?::VARCHAR[])")
    where.when(f.created_after, "created_at >= ?")
    where.when(f.created_before, "created_at < ?")
    for key, value in f.metadata.items():
        where.add(f"json_extract(metadata, '$.\"{key}\"') = ?::JSON", json.dumps(value))
    where.when(f.text, "contains(lower(text), lower(?))")
    return where.predicate()


def visibility_sql(v: VisibilityRules) -> Predicate:
    """A predicate over ``memories`` that is true exactly for the rows an app's rules let it see."""
    if v.deny_all:
        return "false", []
    where = _Clauses()
    where.when(v.deny_ids, "NOT list_contains(?, id)")
    if v.deny_cats:
        where.add("NOT list_has_any(categories, ?::VARCHAR[])", list(v.deny_cats))
        # not yet categorized (ops/pending.py): hidden until filed, fail closed
        where.add("id NOT IN (SELECT memory_id FROM pending_categories)")
    if v.allow_list and not v.allow_all:
        where.add("(list_contains(?, id) OR list_has_any(categories, ?::VARCHAR[]))", list(v.allow_ids), list(v.allow_cats))
    return where.predicate()


def range_sql(f: RangeFilter) -> Predicate:
    """The predicate of an export's filters (every state, deleted included, unless named)."""
    where = _Clauses("true")
    where.when(f.app, "app = ?")
    if f.states:
        where.add("state IN (" + ", ".join("?" * len(f.states)) + ")", *f.states)
    where.when(f.created_after, "created_at >= ?")
    where.when(f.created_before, "created_at < ?")
    return where.predicate()


def both(a: Predicate, b: Predicate) -> Predicate:
    return f"{a[0]} AND {b[0]}", a[1] + b[1]
