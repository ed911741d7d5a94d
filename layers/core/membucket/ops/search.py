"""Search over the memories the calling app may see, with exact filters.

Three modes, all under the same exact filter set (``allowed_vids``: state, filters, access rules):

- ``dense``: cosine similarity of embeddings (FAISS); score = cosine.
- ``lexical``: BM25 over the memories' words (``engine.lexical``); score = BM25.
- ``hybrid`` (default): the union of both candidate lists, each candidate scored exactly by both,
  fused as ``cosine + LEXICAL_WEIGHT * bm25 / max_bm25``, plus a share (``CONTEXT_WEIGHT``) of
  the best fused score among its *context neighbours*: the memories written just before and
  just after it by the same app within ``CONTEXT_WINDOW`` (a conversation's adjacent turns, facts
  saved together). An answer often lies next to the memory that words the question (one turn
  asks, the next answers), so a memory whose neighbour matches moves up. Neighbours count only
  when the caller may see them (the same exact ``allowed`` set), so hidden memories never
  influence a ranking. The fused score is never below the cosine, so ``threshold`` (a minimum
  cosine in dense and hybrid modes) keeps its meaning.
"""

from __future__ import annotations

import json

import numpy as np

from ..engine import queries
from ..engine.replica import Replica
from ..errors import InvalidInput
from .access import Visibility, app_exists, check_app, ensure_app, record_access
from .context import Context, check_embedder
from .filters import Filters
from .models import SearchHit, iso
from .validate import clean_limit, clean_text

__all__ = ["search", "search_vector", "allowed_vids", "MODES", "DEFAULT_MODE", "clean_mode"]

MODES = ("dense", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"
# Hybrid fusion, tuned on LoCoMo dev (bench/README.md): each list contributes its top
# max(limit, CANDIDATES); the lexical score is divided by the best lexical score among them.
# A weighted sum beat reciprocal rank fusion (R@10 69.1 vs 66.4) and min-max / z-score
# normalisation of the cosine (within 0.5 point, worse R@1 and MRR, and it loses score >= cosine).
CANDIDATES = 50
LEXICAL_WEIGHT = 0.5
# Context neighbours (the previous and next memory of the same app by creation time), tuned on LoCoMo dev:
# R@10 69.1 -> 73.0, MRR 53.8 -> 54.8 (bench/README.md). Max of the two, not the mean (71.6).
CONTEXT_WEIGHT = 0.3
CONTEXT_WINDOW_SECONDS = 3600.0


def clean_mode(mode) -> str:
    if mode is None:
        return DEFAULT_MODE
    if not isinstance(mode, str) or mode.strip().lower() not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}; got {str(mode)[:40]!r}")
    return mode.strip().lower()


def allowed_vids(rep: Replica, vis: Visibility, filters: Filters) -> np.ndarray | None:
    """The vids an exact search may return, or None when every active memory may be returned."""
    if filters.empty and vis.unrestricted:
        return None
    return queries.allowed_vids(rep, filters, vis)


def search(
    ctx: Context,
    query: str,
    *,
    limit: int = 10,
    threshold: float | None = None,
    filters: Filters | None = None,
    mode: str | None = None,
) -> list[SearchHit]:
    """Top ``limit`` active memories for ``query`` (cosine at least ``threshold``) in ``mode``."""
    query = clean_text(query, ctx.settings, what="query")
    mode = clean_mode(mode)
    vector = ctx.embed_one(query) if mode != "lexical" or threshold is not None else None
    return search_vector(ctx, vector, limit=limit, threshold=threshold, filters=filters, query=query, mode=mode)


def search_vector(
    ctx: Context,
    vector: np.ndarray | None,
    *,
    limit: int = 10,
    threshold: float | None = None,
    filters: Filters | None = None,
    query: str | None = None,
    exclude: str | None = None,
    op: str = "search",
    mode: str | None = "dense",
) -> list[SearchHit]:
    """Top ``limit`` for a query vector (dense), the query text (lexical) or both (hybrid)."""
    limit = clean_limit(limit, ctx.settings.max_search_limit)
    mode = clean_mode(mode)
    if mode != "dense" and not (query and query.strip()):
        raise InvalidInput(f"mode {mode!r} needs the query text")
    if (mode != "lexical" or threshold is not None) and vector is None:
        raise InvalidInput(f"mode {mode!r} needs a query vector" + (" (threshold is a cosine)" if mode == "lexical" else ""))
    filters = filters or Filters()
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app)
        known = ctx.app is None or app_exists(rep, ctx.app)
        check_embedder(ctx, rep)
        hits: list[SearchHit] = []
        if queries.has_index(rep):
            allowed = allowed_vids(rep, vis, filters)
            if exclude is not None:
                allowed = _without(rep, allowed, exclude)
            scores, vids = _rank(rep, mode, vector, query, limit, allowed, threshold)
            if len(vids):
                by_vid = queries.hit_rows(rep, vids)
                for score, vid in zip(scores, vids):
                    r = by_vid.get(int(vid))
                    if r is None:
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


def _rank(rep: Replica, mode: str, vector, query, limit: int, allowed, threshold) -> tuple[np.ndarray, np.ndarray]:
    """(scores, vids), best first, at most ``limit``, all within ``allowed``. Scores are on one
    0..1 scale in every mode (higher is closer): dense the cosine (negatives as 0); hybrid the
    cosine plus the word and context bonuses, capped at 1 (the order is the uncapped sum's);
    lexical BM25 relative to the best hit."""
    if mode == "dense":
        scores, vids = queries.nearest(rep, vector, limit, allowed)
        keep = scores >= threshold if threshold is not None else slice(None)
        return np.clip(scores[keep], 0.0, 1.0), vids[keep]
    lex = rep.lexical_index()
    if mode == "lexical":
        scores, vids = lex.search(query, limit, allowed)
        if threshold is not None and len(vids):
            keep = queries.cosines(rep, vector, vids) >= threshold
            scores, vids = scores[keep], vids[keep]
        if len(scores) and float(scores.max()) > 0:
            scores = scores / scores.max()
        return np.clip(scores, 0.0, 1.0).astype(np.float32), vids
    pool = max(limit, CANDIDATES)
    _, dvids = queries.nearest(rep, vector, pool, allowed)
    lex_vids, lex_scores = lex.scores(query)
    _, lvids = lex.top(lex_vids, lex_scores, pool, allowed)
    cand = np.unique(np.concatenate([dvids, lvids]).astype(np.int64))
    if len(cand) == 0:
        return np.empty(0, dtype=np.float32), cand
    top = float(lex.lookup(lex_vids, lex_scores, cand).max())
    left, right, scored = _context_neighbours(rep, cand, allowed)
    cos = queries.cosines(rep, vector, scored)
    bm25 = lex.lookup(lex_vids, lex_scores, scored)
    fused_all = cos + (LEXICAL_WEIGHT * bm25 / top if top > 0 else 0.0)
    at = np.searchsorted(scored, cand)
    fused, cos = fused_all[at], cos[at]
    context = np.zeros(len(cand), dtype=np.float32)
    for side in (left, right):
        has = side >= 0
        context[has] = np.maximum(context[has], fused_all[np.searchsorted(scored, side[has])])
    fused = fused + CONTEXT_WEIGHT * context
    if threshold is not None:
        keep = cos >= threshold
        cand, fused = cand[keep], fused[keep]
    order = np.lexsort((cand, -fused))[:limit]
    return np.clip(fused[order], 0.0, 1.0).astype(np.float32), cand[order]


def _context_neighbours(rep: Replica, cand: np.ndarray, allowed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left, right, scored): each candidate's previous/next memory by the same app within the
    context window (-1 if none or not ``allowed``), and the sorted vids to score (both included)."""
    vids, apps, created, position = queries.write_order(rep)
    pos = position[cand]  # candidates are active, so present
    sides = []
    for step in (-1, 1):
        opos = np.clip(pos + step, 0, max(len(vids) - 1, 0))
        other = vids[opos]
        ok = (pos + step >= 0) & (pos + step < len(vids)) & (apps[opos] == apps[pos])
        ok &= np.abs(created[opos] - created[pos]) <= CONTEXT_WINDOW_SECONDS
        if allowed is not None:
            ok &= np.isin(other, np.asarray(allowed, dtype=np.int64))
        sides.append(np.where(ok, other, -1))
    left, right = sides
    scored = np.unique(np.concatenate([cand, left[left >= 0], right[right >= 0]]))
    return left, right, scored


def _without(rep: Replica, allowed: np.ndarray | None, memory_id: str) -> np.ndarray:
    vid = queries.vid_of(rep, memory_id)
    if allowed is None:
        allowed = queries.index_ids(rep)
    return allowed[allowed != vid] if vid is not None else allowed
