"""A daily series of memories added and accessed, for the dashboard chart.

Adds come from the history table (event ``add``), accesses from the access log (one record per
memory an app was shown). Days are UTC calendar days, oldest first, zeros included, so a chart
needs no gap filling. The owner sees the whole namespace; an app sees adds of the memories it
may read and only its own access records, as for ``stats``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..engine.log import utcnow
from ..errors import InvalidInput
from .access import check_app, ingest_access_log
from .context import Context

__all__ = ["timeline", "MAX_DAYS"]

MAX_DAYS = 366


def timeline(ctx: Context, days: int = 30) -> dict[str, Any]:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be an integer from 1 to {MAX_DAYS}", days=str(days)[:20])
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app)
        ingest_access_log(ctx, rep)
        add_sql = "SELECT h.changed_at::DATE AS d, count(*) FROM history h"
        params: list = []
        if ctx.app is not None:
            vwhere, vparams = vis.sql()
            add_sql += f" JOIN (SELECT id FROM memories WHERE state = 'active' AND {vwhere}) m ON m.id = h.memory_id"
            params += vparams
        add_sql += " WHERE h.event = 'add' AND h.changed_at >= ? GROUP BY d"
        adds = dict(rep.con.execute(add_sql, params + [first]).fetchall())
        acc_sql, acc_params = "SELECT accessed_at::DATE AS d, count(*) FROM access_log WHERE accessed_at >= ?", [first]
        if ctx.app is not None:
            acc_sql += " AND app = ?"
            acc_params.append(ctx.app)
        accessed = dict(rep.con.execute(acc_sql + " GROUP BY d", acc_params).fetchall())
    series = []
    for i in range(days):
        d: date = first + timedelta(days=i)
        series.append({"date": d.isoformat(), "added": int(adds.get(d, 0)), "accessed": int(accessed.get(d, 0))})
    return {
        "days": days,
        "items": series,
        "total_added": sum(p["added"] for p in series),
        "total_accessed": sum(p["accessed"] for p in series),
    }
