"""Summaries of a namespace: stats, categories with counts, and the access log.

The owner sees the whole namespace. An app sees counts over what it may read (active memories
its rules allow) and only its own access records; a paused app gets AppPaused.
"""

from __future__ import annotations

from typing import Any

from ..engine.keys import validate_app_name, validate_memory_id
from .access import check_app, ingest_access_log
from .context import Context
from .memories import _load
from .models import AccessRecord, iso
from .validate import clean_limit

__all__ = ["stats", "list_categories", "access_log", "MAX_ACCESS_LOG"]

MAX_ACCESS_LOG = 1000  # most access records one call returns


def _visible(ctx: Context, rep) -> tuple[str, list]:
    """Which memories the caller's counts cover: every non-deleted one for the owner."""
    vis = check_app(rep, ctx.app)
    if ctx.app is None:
        return "state != 'deleted'", []
    vwhere, vparams = vis.sql()
    return f"state = 'active' AND {vwhere}", vparams


def stats(ctx: Context) -> dict[str, Any]:
    with ctx.ns.read() as rep:
        con = rep.con
        where, params = _visible(ctx, rep)
        owner = ctx.app is None
        by_state = dict(
            con.execute(
                "SELECT state, count(*) FROM memories " + ("" if owner else f"WHERE {where} ") + "GROUP BY state", params
            ).fetchall()
        )
        by_app = dict(con.execute(f"SELECT coalesce(app, '(owner)'), count(*) FROM memories WHERE {where} GROUP BY 1", params).fetchall())
        by_cat = dict(
            con.execute(
                f"SELECT c, count(*) FROM (SELECT unnest(categories) AS c FROM memories WHERE {where}) GROUP BY c", params
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
    """Every category in use on non-deleted memories (an app: on those it may see), with counts."""
    with ctx.ns.read() as rep:
        where, params = _visible(ctx, rep)
        rows = rep.con.execute(
            "SELECT c, count(*), count(*) FILTER (WHERE state = 'active') FROM "
            f"(SELECT unnest(categories) AS c, state FROM memories WHERE {where}) GROUP BY c ORDER BY 2 DESC, 1",
            params,
        ).fetchall()
    return [{"name": r[0], "count": int(r[1]), "active": int(r[2])} for r in rows]


def access_log(ctx: Context, *, memory_id: str | None = None, app: str | None = None, limit: int = 100) -> list[AccessRecord]:
    """Who read what: newest first, optionally for one memory or one app.

    An app sees only its own records. With ``memory_id``, the memory must exist and be visible
    to the caller (NotFoundError otherwise), as for ``get``.
    """
    if memory_id is not None:
        memory_id = validate_memory_id(memory_id)
    if app is not None:
        app = validate_app_name(app)
    limit = clean_limit(limit, MAX_ACCESS_LOG)
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app)
        if memory_id is not None:
            _load(ctx, rep, memory_id, vis)
        ingest_access_log(ctx, rep)
        sql, params = "SELECT app, op, query, memory_id, score, accessed_at FROM access_log WHERE true", []
        if memory_id:
            sql += " AND memory_id = ?"
            params.append(memory_id)
        for who in {app, ctx.app} - {None}:  # an app asking about another app gets nothing
            sql += " AND app = ?"
            params.append(who)
        rows = rep.con.execute(sql + " ORDER BY accessed_at DESC, key DESC LIMIT ?", params + [limit]).fetchall()
    return [AccessRecord(r[0], r[1], r[2], r[3], r[4], iso(r[5])) for r in rows]
