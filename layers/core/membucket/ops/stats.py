"""Summaries of a namespace: stats, categories with counts, and the access log."""

from __future__ import annotations

from typing import Any

from ..engine.keys import validate_app_name, validate_memory_id
from .access import check_app, ingest_access_log
from .context import Context
from .models import AccessRecord, iso

__all__ = ["stats", "list_categories", "access_log"]


def stats(ctx: Context) -> dict[str, Any]:
    with ctx.ns.read() as rep:
        con = rep.con
        by_state = dict(con.execute("SELECT state, count(*) FROM memories GROUP BY state").fetchall())
        by_app = dict(con.execute("SELECT coalesce(app, '(owner)'), count(*) FROM memories WHERE state != 'deleted' GROUP BY 1").fetchall())
        by_cat = dict(
            con.execute(
                "SELECT c, count(*) FROM (SELECT unnest(categories) AS c FROM memories WHERE state != 'deleted') GROUP BY c"
            ).fetchall()
        )
        apps = con.execute("SELECT count(*), count(*) FILTER (WHERE paused) FROM apps").fetchone()
        return {
            "user": ctx.user,
            "memories": {"total": sum(by_state.values()), "by_state": by_state, "by_app": by_app, "by_category": by_cat},
            "apps": {"total": int(apps[0]), "paused": int(apps[1])},
            "index": {"active_vectors": rep.index.size if rep.index is not None else 0, "embedder": rep.embedder, "dim": rep.dim},
            "log": {"seq": rep.seq, "checkpoint_seq": rep.checkpoint_seq, "tail": rep.seq - rep.checkpoint_seq},
        }


def list_categories(ctx: Context) -> list[dict[str, Any]]:
    """Every category in use on non-deleted memories, with counts (total and active)."""
    with ctx.ns.read() as rep:
        rows = rep.con.execute(
            "SELECT c, count(*), count(*) FILTER (WHERE state = 'active') FROM "
            "(SELECT unnest(categories) AS c, state FROM memories WHERE state != 'deleted') GROUP BY c ORDER BY 2 DESC, 1"
        ).fetchall()
    return [{"name": r[0], "count": int(r[1]), "active": int(r[2])} for r in rows]


def access_log(ctx: Context, *, memory_id: str | None = None, app: str | None = None, limit: int = 100) -> list[AccessRecord]:
    """Who read what: newest first, optionally for one memory or one app."""
    if memory_id is not None:
        memory_id = validate_memory_id(memory_id)
    if app is not None:
        app = validate_app_name(app)
    with ctx.ns.read() as rep:
        check_app(rep, ctx.app)
        ingest_access_log(ctx, rep)
        sql, params = "SELECT app, op, query, memory_id, score, accessed_at FROM access_log WHERE true", []
        if memory_id:
            sql += " AND memory_id = ?"
            params.append(memory_id)
        if app or ctx.app:
            sql += " AND app = ?"
            params.append(app or ctx.app)
        rows = rep.con.execute(sql + " ORDER BY accessed_at DESC, key DESC LIMIT ?", params + [limit]).fetchall()
    return [AccessRecord(r[0], r[1], r[2], r[3], r[4], iso(r[5])) for r in rows]
