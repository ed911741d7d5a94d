"""Summaries of a namespace: stats, categories with counts, and the access log.

The owner sees the whole namespace. An app sees counts over what it may read (active memories
its rules allow) and only its own access records; a paused app gets AppPaused.
"""

from __future__ import annotations

from typing import Any

from ..engine import access_log as engine_access_log
from ..engine import queries
from ..engine.keys import validate_app_name, validate_memory_id
from .access import Visibility, check_app, ingest_access_log
from .context import Context
from .memories import _load
from .models import AccessRecord, iso
from .validate import clean_limit

__all__ = ["stats", "list_categories", "access_log", "MAX_ACCESS_LOG"]

MAX_ACCESS_LOG = 1000  # most access records one call returns


def _visible(ctx: Context, rep) -> Visibility | None:
    """Which memories the caller's counts cover: None (every non-deleted one) for the owner."""
    vis = check_app(rep, ctx.app)
    return None if ctx.app is None else vis


def stats(ctx: Context) -> dict[str, Any]:
    with ctx.ns.read() as rep:
        c = queries.counts(rep, _visible(ctx, rep))
        by_state = c["by_state"]
        return {
            "user": ctx.user,
            "memories": {"total": sum(by_state.values()), "by_state": by_state, "by_app": c["by_app"], "by_category": c["by_category"]},
            "apps": {"total": c["apps"][0], "paused": c["apps"][1]},
            "index": {"active_vectors": queries.index_size(rep), "embedder": rep.embedder, "dim": rep.dim},
            "log": {"seq": rep.seq, "checkpoint_seq": rep.checkpoint_seq, "tail": rep.seq - rep.checkpoint_seq},
        }


def list_categories(ctx: Context) -> list[dict[str, Any]]:
    """Every category in use on non-deleted memories (an app: on those it may see), with counts."""
    with ctx.ns.read() as rep:
        rows = queries.category_counts(rep, _visible(ctx, rep))
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
        # an app asking about another app gets nothing
        rows = engine_access_log.records(rep, memory_id=memory_id, apps={a for a in (app, ctx.app) if a is not None}, limit=limit)
    return [AccessRecord(app=r[0], op=r[1], query=r[2], memory_id=r[3], score=r[4], at=iso(r[5])) for r in rows]
