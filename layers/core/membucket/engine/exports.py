"""Reads of a replica for an export bundle: memories in vid ranges, then the other tables streamed.

The rows' shapes are the bundle's (``ops.export`` turns them into JSONL). Callers hold the
replica's lock for the whole export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .predicates import RangeFilter, range_sql
from .queries import ReplicaState
from .tables import Row

__all__ = ["count", "memories", "part_rows", "PARTS", "PAGE"]

PAGE = 2000


def count(rep: ReplicaState, filters: RangeFilter) -> int:
    where, params = range_sql(filters)
    row = rep.con.execute(f"SELECT count(*) FROM memories WHERE {where}", params).fetchone()
    assert row is not None, "an aggregate query returns one row"
    return int(row[0])


def memories(rep: ReplicaState, filters: RangeFilter) -> Iterable[Row]:
    """(id, text, hash, state, app, categories, metadata, created_at, updated_at, archived_at,
    deleted_at, vector) in vid order, one vid range at a time: a sort over the whole table (vectors
    included) would materialize it; vids are assigned in increasing order, so ranges are cheap."""
    where, params = range_sql(filters)
    sql = (
        "SELECT id, text, hash, state, app, categories, metadata, created_at, updated_at, archived_at, deleted_at, vector "
        f"FROM memories WHERE {where} AND vid >= ? AND vid < ? ORDER BY vid"
    )
    for lo in range(1, rep.next_vid, PAGE):
        yield from rep.con.execute(sql, [*params, lo, lo + PAGE]).fetchall()


def _stream(rep: ReplicaState, sql: str, params: Sequence[object]) -> Iterable[Row]:
    """Rows of a query in pages (DuckDB streams the result)."""
    result = rep.con.raw.execute(sql, params)
    while True:
        rows = result.fetchmany(PAGE)
        if not rows:
            return
        yield from rows


PARTS = {
    # apps: (name, paused, created_at, updated_at); rules: (id, app, effect, scope, target, created_at)
    "apps": "SELECT name, paused, created_at, updated_at FROM apps ORDER BY name",
    "rules": "SELECT id, app, effect, scope, target, created_at FROM rules ORDER BY created_at, id",
    # (memory_id, seq, event, old_state, new_state, old_text, new_text, actor, changed_at)
    "history": "SELECT memory_id, seq, event, old_state, new_state, old_text, new_text, actor, changed_at FROM history "
               "WHERE memory_id IN ({chosen}) ORDER BY memory_id, seq, changed_at",
    # (app, op, query, memory_id, score, accessed_at)
    "access_log": "SELECT app, op, query, memory_id, score, accessed_at FROM access_log WHERE memory_id IN ({chosen}) "
                  "ORDER BY accessed_at, key, memory_id",
}


def part_rows(rep: ReplicaState, part: str, filters: RangeFilter) -> Iterable[Row]:
    """The rows of one other part (``PARTS``); history and access log only of the chosen memories."""
    sql = PARTS[part]
    if "{chosen}" not in sql:
        return _stream(rep, sql, [])
    where, params = range_sql(filters)
    return _stream(rep, sql.format(chosen=f"SELECT id FROM memories WHERE {where}"), params)
