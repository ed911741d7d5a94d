"""Reads of a replica for the operations: the one seam between ops and the replica's DuckDB and FAISS.

Ops never write SQL against ``rep.con`` nor reach into ``rep.index``: they call these typed
functions, passing their filters and access rules as typed objects (compiled to SQL in
``engine.predicates``). Callers hold the replica's lock (``Namespace.read`` / ``commit``).

Some results are memoised on the replica (``rep.memo``) until it changes. This module owns those
keys and the rule for keeping them (``forget``): the app rows and rules that every call of an
app reads survive entries that touch no app or rule; everything else is dropped on any change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from .index import VectorIndex
from .predicates import MemoryFilter, VisibilityRules, filter_sql, visibility_sql
from .tables import Connection, Row, in_list

__all__ = [
    "ReplicaState", "forget", "MEMORY_COLUMNS",
    "memory", "memory_hash", "memory_vector", "memory_heads", "memory_states", "memory_counts", "memory_by_vid",
    "active_memory_by_vid", "visible_active", "duplicate", "is_pending",
    "list_page", "visible_ids", "category_targets", "found_ids", "history",
    "active_vids", "allowed_vids", "has_index", "index_size", "index_ids", "nearest", "cosines", "hit_rows", "vid_of", "write_order",
    "texts_by_vid", "app_row", "app_rules", "app_paused", "app_exists_now", "apps", "rules", "same_rule", "rule_exists",
    "category_defs", "category_def_rows", "counts", "category_counts", "added_buckets",
    "pending_ids", "pending_rows", "pending_hash", "import_rows", "app_rows", "rule_rows",
]

# Columns of a memory as ``ops.models.Memory.from_row`` reads them, in this order.
MEMORY_COLUMNS = "id, text, state, app, categories, metadata, created_at, updated_at, archived_at, deleted_at"
_ACL_MEMO = frozenset({"app", "rules"})  # memo kinds that change only with app.* / rule.* entries
_OWNER_SEES = "state != 'deleted'"

# The memo holds results of different shapes; each reader below gives its entry a type back.
Memo = dict[tuple[object, ...], Any]


class ReplicaState(Protocol):
    """What these queries read of ``engine.replica.Replica`` (structural: no import cycle)."""

    con: Connection
    index: VectorIndex | None
    memo: Memo
    next_vid: int


def forget(memo: Memo, acl: bool) -> None:
    """Drop memoised results after a change; app/rule results survive entries touching no app or rule."""
    if acl:
        memo.clear()
        return
    for key in [k for k in memo if k[0] not in _ACL_MEMO]:
        del memo[key]


def _one(rep: ReplicaState, sql: str, params: Sequence[object] | None = None) -> Row | None:
    return rep.con.execute(sql, params or []).fetchone()


def _scalar(rep: ReplicaState, sql: str, params: Sequence[object] | None = None) -> Row:
    """The one row of an aggregate query (always present)."""
    row = rep.con.execute(sql, params or []).fetchone()
    assert row is not None, "an aggregate query without GROUP BY returns one row"
    return row


def _all(rep: ReplicaState, sql: str, params: Sequence[object] | None = None) -> list[Row]:
    return rep.con.execute(sql, params or []).fetchall()


# -- single memories ---------------------------------------------------------------------------
def memory(rep: ReplicaState, memory_id: str) -> Row | None:
    """The row of ``MEMORY_COLUMNS`` for one memory, or None."""
    return _one(rep, f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ?", [memory_id])


def memory_hash(rep: ReplicaState, memory_id: str) -> str | None:
    row = _one(rep, "SELECT hash FROM memories WHERE id = ?", [memory_id])
    return None if row is None else row[0]


def memory_vector(rep: ReplicaState, memory_id: str) -> bytes | None:
    row = _one(rep, "SELECT vector FROM memories WHERE id = ?", [memory_id])
    return None if row is None else row[0]


def memory_heads(rep: ReplicaState, ids: list[str]) -> list[Row]:
    """(id, hash, state, categories) of the given memories that exist."""
    return _all(rep, "SELECT id, hash, state, categories FROM memories WHERE list_contains(?, id)", [ids])


def memory_states(rep: ReplicaState, ids: list[str]) -> dict[str, tuple[str, list[str]]]:
    """id -> (state, categories) of the given memories that exist."""
    rows = _all(rep, "SELECT id, state, categories FROM memories WHERE list_contains(?, id)", [ids])
    return {r[0]: (r[1], list(r[2] or [])) for r in rows}


def memory_counts(rep: ReplicaState) -> tuple[int, int]:
    """(every memory, active memories)."""
    row = _scalar(rep, "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM memories")
    return int(row[0]), int(row[1])


def memory_by_vid(rep: ReplicaState, vid: int) -> Row | None:
    """(id, text, metadata JSON, categories) of the memory with this vid."""
    return _one(rep, "SELECT id, text, metadata, categories FROM memories WHERE vid = ?", [int(vid)])


def active_memory_by_vid(rep: ReplicaState, vid: int) -> Row | None:
    """(id, text) of the active memory with this vid."""
    return _one(rep, "SELECT id, text FROM memories WHERE vid = ? AND state = 'active'", [int(vid)])


def visible_active(rep: ReplicaState, memory_id: str, vis: VisibilityRules) -> Row | None:
    """(text, metadata JSON, categories) of this memory if it is active and ``vis`` shows it."""
    where, params = visibility_sql(vis)
    return _one(rep, f"SELECT text, metadata, categories FROM memories WHERE id = ? AND state = 'active' AND {where}", [memory_id, *params])


def duplicate(rep: ReplicaState, digest: str, vis: VisibilityRules, *, active_only: bool) -> Row | None:
    """(id, text) of a visible memory with exactly this text hash: an active one, or any kept one."""
    where, params = visibility_sql(vis)
    states = "state = 'active'" if active_only else _OWNER_SEES
    return _one(rep, f"SELECT id, text FROM memories WHERE hash = ? AND {states} AND {where} LIMIT 1", [digest, *params])


def is_pending(rep: ReplicaState, memory_id: str) -> bool:
    """Whether the memory still waits for its categories."""
    return _one(rep, "SELECT 1 FROM pending_categories WHERE memory_id = ?", [memory_id]) is not None


def history(rep: ReplicaState, memory_id: str) -> list[Row]:
    """(memory_id, seq, event, old_state, new_state, old_text, new_text, actor, changed_at), oldest first."""
    return _all(
        rep,
        "SELECT memory_id, seq, event, old_state, new_state, old_text, new_text, actor, changed_at FROM history "
        "WHERE memory_id = ? ORDER BY seq, changed_at",
        [memory_id],
    )


# -- sets of memories --------------------------------------------------------------------------
def _after(sort: str, order: str, value: Any, mid: str, nullable: bool) -> tuple[str, list[object]]:
    """Keyset predicate for the rows after (value, id) in ``ORDER BY sort <order> NULLS LAST, id <order>``."""
    cmp = "<" if order == "desc" else ">"
    if value is None:  # already among the NULLs, which come last either way
        return f" AND ({sort} IS NULL AND id {cmp} ?)", [mid]
    tail = f" OR {sort} IS NULL" if nullable else ""
    return f" AND ({sort} {cmp} ? OR ({sort} = ? AND id {cmp} ?){tail})", [value, value, mid]


def list_page(
    rep: ReplicaState,
    filters: MemoryFilter,
    vis: VisibilityRules,
    *,
    sort: str,
    order: str,
    limit: int,
    offset: int = 0,
    after: tuple[Any, str] | None = None,
    nullable: bool = False,
) -> tuple[int, list[Row]]:
    """(total matching, rows of ``MEMORY_COLUMNS`` plus the sort value) for one page.

    ``sort`` is a column name the caller has checked; ``after`` (sort value, id) pages by keyset.
    """
    fwhere, fparams = filter_sql(filters)
    vwhere, vparams = visibility_sql(vis)
    where, params = f"{fwhere} AND {vwhere}", fparams + vparams
    total = _scalar(rep, f"SELECT count(*) FROM memories WHERE {where}", params)[0]
    direction = "DESC" if order == "desc" else "ASC"
    sql = f"SELECT {MEMORY_COLUMNS}, {sort} FROM memories WHERE {where}"
    qparams = list(params)
    if after is not None:
        more, aparams = _after(sort, order, after[0], after[1], nullable)
        sql += more
        qparams += aparams
    sql += f" ORDER BY {sort} {direction} NULLS LAST, id {direction} LIMIT ? OFFSET ?"
    return int(total), _all(rep, sql, qparams + [limit, offset])


def visible_ids(rep: ReplicaState, filters: MemoryFilter, vis: VisibilityRules) -> list[str]:
    """Ids of the memories matching ``filters`` that ``vis`` shows."""
    where, params = filter_sql(filters)
    vwhere, vparams = visibility_sql(vis)
    return [r[0] for r in _all(rep, f"SELECT id FROM memories WHERE {where} AND {vwhere}", params + vparams)]


def _targets_where(states: Sequence[str], vis: VisibilityRules) -> tuple[str, list[object]]:
    vwhere, vparams = visibility_sql(vis)
    return f"list_contains(?, state) AND {vwhere}", [list(states), *vparams]


def found_ids(rep: ReplicaState, ids: list[str], states: Sequence[str], vis: VisibilityRules) -> set[str]:
    """Which of ``ids`` exist in one of ``states`` and are visible."""
    where, params = _targets_where(states, vis)
    return {r[0] for r in _all(rep, f"SELECT id FROM memories WHERE list_contains(?, id) AND {where}", [ids, *params])}


def category_targets(
    rep: ReplicaState, ids: list[str] | None, states: Sequence[str], vis: VisibilityRules, *, only_missing: bool
) -> list[Row]:
    """(id, hash, text, vector, categories) in vid order: visible, in ``states``, among ``ids`` if given."""
    where, params = _targets_where(states, vis)
    if ids is not None:
        where, params = f"list_contains(?, id) AND {where}", [ids, *params]
    if only_missing:
        where += " AND len(categories) = 0"
    return _all(rep, f"SELECT id, hash, text, vector, categories FROM memories WHERE {where} ORDER BY vid", params)


def texts_by_vid(rep: ReplicaState) -> np.ndarray:
    """Every memory's text in vid order."""
    return rep.con.execute("SELECT text FROM memories ORDER BY vid").fetchnumpy()["text"]


# -- vectors and search ------------------------------------------------------------------------
def has_index(rep: ReplicaState) -> bool:
    """Whether the namespace has an index yet (it is made with the first embedder)."""
    return rep.index is not None


def index_size(rep: ReplicaState) -> int:
    """Vectors in the index (the active memories); 0 before the first memory."""
    return rep.index.size if rep.index is not None else 0


def index_ids(rep: ReplicaState) -> np.ndarray:
    return rep.index.ids() if rep.index is not None else np.empty(0, dtype=np.int64)


def nearest(rep: ReplicaState, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (cosines, vids) among the active memories, or only among ``allowed`` vids (exact)."""
    if rep.index is None:
        return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
    return rep.index.search(vector, k, allowed)


def cosines(rep: ReplicaState, vector: np.ndarray, vids: np.ndarray) -> np.ndarray:
    """The query's cosine with each of these (indexed) vids, in their order."""
    q = np.asarray(vector, dtype=np.float32).reshape(-1)
    if len(vids) == 0:
        return np.empty(0, dtype=np.float32)
    assert rep.index is not None, "cosines need the index (search checks has_index first)"
    stored: np.ndarray = rep.index.index.reconstruct_batch(np.ascontiguousarray(vids, dtype=np.int64))
    return stored @ q


def active_vids(rep: ReplicaState, vis: VisibilityRules) -> np.ndarray:
    """Vids of the active memories ``vis`` shows."""
    where, params = visibility_sql(vis)
    return rep.con.execute(f"SELECT vid FROM memories WHERE state = 'active' AND {where}", params).fetchnumpy()["vid"]


def allowed_vids(rep: ReplicaState, filters: MemoryFilter, vis: VisibilityRules) -> np.ndarray:
    """Vids of the active memories matching ``filters`` that ``vis`` shows (memoised)."""
    where, params = filter_sql(filters, default_states=("active",))
    vwhere, vparams = visibility_sql(vis)
    key = ("allowed", where, json.dumps(params, default=str), vwhere, json.dumps(vparams))
    if key not in rep.memo:
        rep.memo[key] = rep.con.execute(
            f"SELECT vid FROM memories WHERE state = 'active' AND {where} AND {vwhere}", params + vparams
        ).fetchnumpy()["vid"]
    vids: np.ndarray = rep.memo[key]
    return vids


def hit_rows(rep: ReplicaState, vids: np.ndarray) -> dict[int, Row]:
    """vid -> (vid, id, text, categories, created_at, updated_at, app, metadata JSON)."""
    rows = _all(
        rep,
        "SELECT vid, id, text, categories, created_at, updated_at, app, metadata FROM memories "
        f"WHERE vid IN {in_list(len(vids))}",
        [int(v) for v in vids],
    )
    return {r[0]: r for r in rows}


def vid_of(rep: ReplicaState, memory_id: str) -> int | None:
    row = _one(rep, "SELECT vid FROM memories WHERE id = ?", [memory_id])
    return None if row is None else row[0]


def write_order(rep: ReplicaState) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The active memories in write order per app: (vids, app hashes, created epochs) sorted by
    (app, created_at, vid), and each vid's position in them (-1 if not active). Ordered by time,
    not vid, so an imported or restored namespace has the same neighbours as its source.
    Memoised until the replica changes (one scan: ~1 ms at 10k memories, ~8 ms at 100k)."""
    key = ("write-order",)
    if key not in rep.memo:
        cols = rep.con.execute(
            "SELECT vid, hash(coalesce(app, '')) AS app, epoch(created_at) AS created FROM memories "
            "WHERE state = 'active' ORDER BY 2, 3, 1"
        ).fetchnumpy()
        vids = np.asarray(cols["vid"], dtype=np.int64)
        position = np.full(int(vids.max()) + 1 if len(vids) else 0, -1, dtype=np.int64)
        position[vids] = np.arange(len(vids))
        rep.memo[key] = (vids, np.asarray(cols["app"]), np.asarray(cols["created"], dtype=np.float64), position)
    order: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = rep.memo[key]
    return order


# -- apps and rules ----------------------------------------------------------------------------
def app_row(rep: ReplicaState, app: str) -> Row | None:
    """(paused,) of a known app, or None (memoised until an app or rule changes)."""
    key = ("app", app)
    if key not in rep.memo:
        rep.memo[key] = _one(rep, "SELECT paused FROM apps WHERE name = ?", [app])
    row: Row | None = rep.memo[key]
    return row


def app_rules(rep: ReplicaState, app: str) -> tuple[tuple[str, str, str | None], ...]:
    """(effect, scope, target) of every rule for ``app`` or for every app (memoised like ``app_row``)."""
    key = ("rules", app)
    if key not in rep.memo:
        rep.memo[key] = tuple(_all(rep, "SELECT effect, scope, target FROM rules WHERE app = ? OR app = '*'", [app]))
    rules: tuple[tuple[str, str, str | None], ...] = rep.memo[key]
    return rules


def app_paused(rep: ReplicaState, name: str) -> bool | None:
    """Whether the app is paused, as the table says now (None: no such app)."""
    row = _one(rep, "SELECT paused FROM apps WHERE name = ?", [name])
    return None if row is None else bool(row[0])


def app_exists_now(rep: ReplicaState, name: str) -> bool:
    return _one(rep, "SELECT 1 FROM apps WHERE name = ?", [name]) is not None


_APP_SQL = (
    "SELECT a.name, a.paused, a.created_at, a.updated_at, "
    "(SELECT count(*) FROM memories m WHERE m.app = a.name AND m.state != 'deleted') FROM apps a"
)


def apps(rep: ReplicaState, name: str | None = None) -> list[Row]:
    """(name, paused, created_at, updated_at, memories not deleted) of every app, or of one."""
    if name is None:
        return _all(rep, _APP_SQL + " ORDER BY a.name")
    return _all(rep, _APP_SQL + " WHERE a.name = ?", [name])


def rules(rep: ReplicaState, app: str | None = None) -> list[Row]:
    """(id, app, effect, scope, target, created_at) of every rule, or of those applying to ``app``."""
    sql, params = "SELECT id, app, effect, scope, target, created_at FROM rules", []
    if app is not None:
        sql += " WHERE app = ? OR app = '*'"
        params.append(app)
    return _all(rep, sql + " ORDER BY created_at, id", params)


def same_rule(rep: ReplicaState, app: str, effect: str, scope: str, target: str | None) -> str | None:
    """The id of an identical rule, if there is one."""
    row = _one(
        rep,
        "SELECT id FROM rules WHERE app = ? AND effect = ? AND scope = ? AND target IS NOT DISTINCT FROM ?",
        [app, effect, scope, target],
    )
    return None if row is None else row[0]


def rule_exists(rep: ReplicaState, rule_id: str) -> bool:
    return _one(rep, "SELECT 1 FROM rules WHERE id = ?", [rule_id]) is not None


# -- categories --------------------------------------------------------------------------------
def category_defs(rep: ReplicaState) -> tuple[tuple[str, str], ...]:
    """(name, description) of the namespace's category definitions by name (memoised)."""
    key = ("category_defs",)
    if key not in rep.memo:
        rep.memo[key] = tuple(_all(rep, "SELECT name, description FROM category_defs ORDER BY name"))
    defs: tuple[tuple[str, str], ...] = rep.memo[key]
    return defs


def category_def_rows(rep: ReplicaState) -> list[Row]:
    """(name, description, created_at, updated_at) by name."""
    return _all(rep, "SELECT name, description, created_at, updated_at FROM category_defs ORDER BY name")


def pending_ids(rep: ReplicaState, limit: int) -> list[str]:
    """Memories (not deleted) still waiting for categories, oldest first."""
    return [r[0] for r in _all(
        rep,
        "SELECT m.id FROM memories m JOIN pending_categories p ON p.memory_id = m.id "
        "WHERE m.state != 'deleted' ORDER BY p.since, m.id LIMIT ?", [limit],
    )]


def pending_rows(rep: ReplicaState, ids: list[str]) -> list[Row]:
    """(id, text, hash, vector) of those of ``ids`` that are pending and not deleted."""
    return _all(
        rep,
        "SELECT m.id, m.text, m.hash, m.vector FROM memories m JOIN pending_categories p ON p.memory_id = m.id "
        f"WHERE m.state != 'deleted' AND m.id IN {in_list(len(ids))}",
        ids,
    )


def pending_hash(rep: ReplicaState, memory_id: str) -> str | None:
    """The text hash of a memory if it is pending and not deleted."""
    row = _one(
        rep,
        "SELECT m.hash FROM memories m JOIN pending_categories p ON p.memory_id = m.id "
        "WHERE m.id = ? AND m.state != 'deleted'", [memory_id],
    )
    return None if row is None else row[0]


# -- summaries ---------------------------------------------------------------------------------
def _seen(vis: VisibilityRules | None) -> tuple[str, list[object]]:
    """What counts cover: every kept memory for the owner (None), else the visible active ones."""
    if vis is None:
        return _OWNER_SEES, []
    vwhere, vparams = visibility_sql(vis)
    return f"state = 'active' AND {vwhere}", vparams


def counts(rep: ReplicaState, vis: VisibilityRules | None) -> dict[str, Any]:
    """Memories by state, app and category, and apps (total, paused); ``vis`` None: the owner's view."""
    where, params = _seen(vis)
    con = rep.con
    by_state: dict[str, int] = dict(
        con.execute("SELECT state, count(*) FROM memories " + ("" if vis is None else f"WHERE {where} ") + "GROUP BY state", params).fetchall()
    )
    by_app: dict[str, int] = dict(con.execute(f"SELECT coalesce(app, '(owner)'), count(*) FROM memories WHERE {where} GROUP BY 1", params).fetchall())
    by_cat: dict[str, int] = dict(
        con.execute(f"SELECT c, count(*) FROM (SELECT unnest(categories) AS c FROM memories WHERE {where}) GROUP BY c", params).fetchall()
    )
    apps_row = _scalar(rep, "SELECT count(*), count(*) FILTER (WHERE paused) FROM apps")
    return {"by_state": by_state, "by_app": by_app, "by_category": by_cat, "apps": (int(apps_row[0]), int(apps_row[1]))}


def category_counts(rep: ReplicaState, vis: VisibilityRules | None) -> list[Row]:
    """(category, memories, active memories), most used first; ``vis`` None: the owner's view."""
    where, params = _seen(vis)
    return _all(
        rep,
        "SELECT c, count(*), count(*) FILTER (WHERE state = 'active') FROM "
        f"(SELECT unnest(categories) AS c, state FROM memories WHERE {where}) GROUP BY c ORDER BY 2 DESC, 1",
        params,
    )


BUCKET = "time_bucket(INTERVAL 15 MINUTE, {col})"  # every zone's UTC offset is a multiple of 15 minutes


def added_buckets(rep: ReplicaState, since: datetime, vis: VisibilityRules | None) -> list[Row]:
    """(15-minute bucket, memories added) since ``since``; with ``vis``, only visible active memories."""
    sql = f"SELECT {BUCKET.format(col='h.changed_at')} AS b, count(*) FROM history h"
    params: list[object] = []
    if vis is not None:
        vwhere, vparams = visibility_sql(vis)
        sql += f" JOIN (SELECT id FROM memories WHERE state = 'active' AND {vwhere}) m ON m.id = h.memory_id"
        params += vparams
    sql += " WHERE h.event = 'add' AND h.changed_at >= ? GROUP BY b"
    return _all(rep, sql, params + [since])


# -- import ------------------------------------------------------------------------------------
def import_rows(rep: ReplicaState, *, full: bool) -> list[Row]:
    """Every memory as (id, updated_at), or with ``full`` as (id, text, state, app, categories,
    metadata, created_at, updated_at, archived_at, deleted_at)."""
    if not full:
        return _all(rep, "SELECT id, updated_at FROM memories")
    return _all(rep, "SELECT id, text, state, app, categories, metadata, created_at, updated_at, archived_at, deleted_at FROM memories")


def app_rows(rep: ReplicaState) -> list[Row]:
    """(name, paused, created_at, updated_at) of every app."""
    return _all(rep, "SELECT name, paused, created_at, updated_at FROM apps")


def rule_rows(rep: ReplicaState) -> list[Row]:
    """(id, app, effect, scope, target) of every rule."""
    return _all(rep, "SELECT id, app, effect, scope, target FROM rules")
