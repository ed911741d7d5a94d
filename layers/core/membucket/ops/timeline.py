"""A daily series of memories added and accessed, for the dashboard chart.

Adds come from the history table (event ``add``), accesses from the access log (one record per
memory an app was shown). Days are calendar days in ``tz`` (an IANA zone, UTC by default),
oldest first, zeros included, so a chart needs no gap filling. Counts are taken per 15 minutes
in SQL (every zone's UTC offset is a multiple of 15 minutes) and assigned to local days here,
so no time-zone database is needed inside DuckDB. The owner sees the whole namespace; an app
sees adds of the memories it may read and only its own access records, as for ``stats``.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..engine import access_log, queries
from ..engine.log import utcnow
from ..errors import InvalidInput
from .access import check_app, ingest_access_log
from .context import Context
from .validate import TIMELINE_MAX_DAYS

__all__ = ["timeline", "MAX_DAYS", "zone"]

MAX_DAYS = TIMELINE_MAX_DAYS


def zone(name: str) -> ZoneInfo:
    """An IANA time zone, or InvalidInput (400)."""
    if not isinstance(name, str) or not name or len(name) > 64 or ".." in name or name.startswith("/"):
        raise InvalidInput("not an IANA time zone name", tz=str(name)[:64])
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}", tz=name[:64]) from None


def timeline(ctx: Context, days: int = 30, tz: str = "UTC") -> dict[str, Any]:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be an integer from 1 to {MAX_DAYS}", days=str(days)[:20])
    where = zone(tz)
    today = utcnow().replace(tzinfo=UTC).astimezone(where).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time(), where).astimezone(UTC).replace(tzinfo=None)
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app)
        ingest_access_log(ctx, rep)
        adds = queries.added_buckets(rep, since, None if ctx.app is None else vis)
        accessed = access_log.accessed_buckets(rep, since, ctx.app)

    def per_day(rows) -> Counter:
        out: Counter = Counter()
        for bucket, n in rows:
            out[bucket.replace(tzinfo=UTC).astimezone(where).date()] += int(n)
        return out

    added, read = per_day(adds), per_day(accessed)
    series = []
    for i in range(days):
        d = first + timedelta(days=i)
        series.append({"date": d.isoformat(), "added": added.get(d, 0), "accessed": read.get(d, 0)})
    return {
        "days": days,
        "tz": tz,
        "items": series,
        "total_added": sum(p["added"] for p in series),
        "total_accessed": sum(p["accessed"] for p in series),
    }
