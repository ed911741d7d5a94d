"""The replica's ``access_log`` table: records loaded from the bucket's access-log objects, and reads of it.

``ops.access.ingest_access_log`` lists and parses the objects; this module is where their rows
meet DuckDB. Callers hold the replica's lock.
"""

from __future__ import annotations

from datetime import datetime

from .queries import BUCKET, ReplicaState
from .tables import Row

__all__ = ["keys_after", "append", "records", "accessed_buckets", "ROW"]

ROW = ("key", "app", "op", "query", "memory_id", "score", "accessed_at")  # the order ``append`` takes


def keys_after(rep: ReplicaState, start: str) -> set[str]:
    """Object keys already loaded that sort after ``start``."""
    return {r[0] for r in rep.con.execute("SELECT DISTINCT key FROM access_log WHERE key > ?", [start]).fetchall()}


def append(rep: ReplicaState, rows: list[list[object]]) -> None:
    """Load rows (in ``ROW`` order) into the replica's access_log table."""
    rep.con.executemany("INSERT INTO access_log VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def records(rep: ReplicaState, *, memory_id: str | None, apps: set[str], limit: int) -> list[Row]:
    """(app, op, query, memory_id, score, accessed_at), newest first, for one memory and/or only these apps."""
    sql, params = "SELECT app, op, query, memory_id, score, accessed_at FROM access_log WHERE true", []
    if memory_id:
        sql += " AND memory_id = ?"
        params.append(memory_id)
    for who in apps:  # two different apps: nothing
        sql += " AND app = ?"
        params.append(who)
    return rep.con.execute(sql + " ORDER BY accessed_at DESC, key DESC LIMIT ?", params + [limit]).fetchall()


def accessed_buckets(rep: ReplicaState, since: datetime, app: str | None) -> list[Row]:
    """(15-minute bucket, memories shown) since ``since``, for every app or only ``app``."""
    sql = f"SELECT {BUCKET.format(col='accessed_at')} AS b, count(*) FROM access_log WHERE accessed_at >= ?"
    params: list[object] = [since]
    if app is not None:
        sql += " AND app = ?"
        params.append(app)
    return rep.con.execute(sql + " GROUP BY b", params).fetchall()
