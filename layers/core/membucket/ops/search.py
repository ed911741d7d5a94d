"""Semantic search over the memories the calling app may see, with exact filters."""

from __future__ import annotations

import json

import numpy as np

from ..engine.replica import Replica
from ..engine.tables import in_list
from .access import Visibility, app_exists, check_app, ensure_app, record_access
from .context import Context, check_embedder
from .filters import Filters
from .models import SearchHit, iso
from .validate import clean_limit, clean_text

__all__ = ["search", "search_vector", "allowed_vids"]


def allowed_vids(rep: Replica, vis: Visibility, filters: Filters) -> np.ndarray | None:
    """The vids an exact search may return, or None when every active memory may be returned."""
    if filters.empty and vis.unrestricted:
        return None
    where, params = filters.sql(default_states=("active",))
    vwhere, vparams = vis.sql()
    key = ("allowed", where, json.dumps(params, default=str), vwhere, json.dumps(vparams))
    if key not in rep.memo:
        rep.memo[key] = rep.con.execute(
            f"SELECT vid FROM memories WHERE state = 'active' AND {where} AND {vwhere}", params + vparams
        ).fetchnumpy()["vid"]
    return rep.memo[key]


def search(
    ctx: Context,
    query: str,
    *,
    limit: int = 10,
    threshold: float | None = None,
    filters: Filters | None = None,
) -> list[SearchHit]:
    """Top ``limit`` active memories by cosine similarity to ``query`` (at least ``threshold``)."""
    query = clean_text(query, ctx.settings, what="query")
    return search_vector(ctx, ctx.embed_one(query), limit=limit, threshold=threshold, filters=filters, query=query)


def search_vector(
    ctx: Context,
    vector: np.ndarray,
    *,
    limit: int = 10,
    threshold: float | None = None,
    filters: Filters | None = None,
    query: str | None = None,
    exclude: str | None = None,
    op: str = "search",
) -> list[SearchHit]:
    limit = clean_limit(limit, ctx.settings.max_search_limit)
    filters = filters or Filters()
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app)
        known = ctx.app is None or app_exists(rep, ctx.app)
        check_embedder(ctx, rep)
        hits: list[SearchHit] = []
        if rep.index is not None:
            allowed = allowed_vids(rep, vis, filters)
            if exclude is not None:
                allowed = _without(rep, allowed, exclude)
            scores, vids = rep.index.search(vector, limit, allowed)
            if len(vids):
                rows = rep.con.execute(
                    "SELECT vid, id, text, categories, created_at, updated_at, app, metadata FROM memories "
                    f"WHERE vid IN {in_list(len(vids))}",
                    [int(v) for v in vids],
                ).fetchall()
                by_vid = {r[0]: r for r in rows}
                for score, vid in zip(scores, vids):
                    r = by_vid.get(int(vid))
                    if r is None or (threshold is not None and score < threshold):
                        continue
                    hits.append(SearchHit(
                        id=r[1], text=r[2], score=round(float(score), 6), categories=list(r[3] or []),
                        created_at=iso(r[4]), updated_at=iso(r[5]), app=r[6],
                        metadata=json.loads(r[7]) if r[7] else {},
                    ))
    if not known:
        ensure_app(ctx)
    record_access(ctx, op, query, [(h.id, h.score) for h in hits])
    return hits


def _without(rep: Replica, allowed: np.ndarray | None, memory_id: str) -> np.ndarray:
    row = rep.con.execute("SELECT vid FROM memories WHERE id = ?", [memory_id]).fetchone()
    if allowed is None:
        allowed = rep.index.ids()
    return allowed[allowed != row[0]] if row else allowed
