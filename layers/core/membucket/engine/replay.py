"""Apply committed log entries to a replica, in order, deterministically.

Entries were validated before they were committed, so replay trusts them; it still skips an
operation that names a memory the replica does not have, rather than fail the whole replica.
Every operation type a writer may emit (engine/operations.py) has one handler here, and nowhere
else: ``apply_entries`` parses each committed dict into its type and dispatches on the type.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..store import ObjectStore
from .blobs import decode_part
from .checkpoint import cached_object
from .index import VectorIndex
from .keys import NamespaceKeys
from .lexical import LexicalIndex
from .log import LogEntry, decode_vector, parse_ts
from .objcache import release
from .operations import (
    AppImport,
    AppPurge,
    AppState,
    AppUpsert,
    CategoryDefine,
    CategoryDelete,
    EmbedderSwitch,
    Init,
    MemoryAdd,
    MemoryImport,
    MemoryPending,
    MemoryPurge,
    MemoryState,
    MemoryUpdate,
    Operation,
    RuleAdd,
    RuleDelete,
    RuleImport,
    parse_op,
)
from .reindex import text_digest, unpack
from .tables import Connection, in_list

__all__ = ["apply_entries", "ReplayTarget", "STATES", "OP_TYPES", "HANDLERS"]

STATES = ("active", "paused", "archived", "deleted")


class ReplayTarget(Protocol):
    """What replay needs of a replica (engine/replica.Replica): its tables, indexes and counters.

    Replay changes the counters only through the methods, never by assigning them.
    """

    store: ObjectStore
    keys: NamespaceKeys
    cache_dir: Path
    con: Connection
    index: VectorIndex | None
    lexical: LexicalIndex | None
    dim: int | None

    def take_vids(self, n: int) -> np.ndarray: ...

    def set_embedder(self, embedder: str, dim: int) -> None: ...

    def switch_embedder(self, embedder: str, dim: int) -> None: ...

    def advance(self, seq: int) -> None: ...


def _index(rep: ReplayTarget) -> VectorIndex:
    """The index, which exists once the namespace has an embedder, i.e. before any memory."""
    assert rep.index is not None, "memories are replayed only after the embedder (and index) is set"
    return rep.index


def _ts(value: str | None, default: datetime | None) -> datetime | None:
    return parse_ts(value) if value else default


def _add_memories(rep: ReplayTarget, pairs: list[tuple[MemoryAdd, LogEntry]]) -> None:
    """Insert a run of memory.add ops (possibly from several entries) in one statement per table."""
    n = len(pairs)
    vids = rep.take_vids(n)
    vectors = np.stack([decode_vector(op.vector) for op, _ in pairs]).astype(np.float32)
    if vectors.shape[1] != rep.dim:
        raise ValueError(f"vector dimension {vectors.shape[1]} != namespace dimension {rep.dim}")
    created = [_ts(op.created_at, e.ts) for op, e in pairs]
    states = [op.state or "active" for op, _ in pairs]
    rows = [
        [
            op.id, int(vid), op.text, op.hash, json.dumps(op.metadata or {}),
            list(op.categories or []), op.app, state, c, _ts(op.updated_at, c),
            _ts(op.archived_at, None), _ts(op.deleted_at, None), v.tobytes(),
        ]
        for (op, _), vid, state, c, v in zip(pairs, vids, states, created, vectors)
    ]
    history = [
        [op.id, e.seq, "add", None, state, None, op.text, op.app or e.actor, c]
        for (op, e), state, c in zip(pairs, states, created)
    ]
    if n <= 16:
        # A few rows: one multi-row VALUES statement (registering a relation costs more).
        _insert_values(rep.con, "memories", rows)
        _insert_values(rep.con, "history", history)
    else:
        _bulk_insert(rep.con, rows, history)
    active = np.array([s == "active" for s in states])
    _index(rep).add(vids[active], vectors[active])
    if rep.lexical is not None:
        rep.lexical.add(vids[active], [op.text for (op, _), a in zip(pairs, active) if a])


def _insert_values(con: Connection, table: str, rows: list[list[Any]]) -> None:
    row = "(" + ", ".join("?" * len(rows[0])) + ")"
    con.execute(f"INSERT INTO {table} VALUES {', '.join([row] * len(rows))}", [x for r in rows for x in r])


MEMORY_COLUMNS = ["id", "vid", "text", "hash", "metadata", "categories", "app", "state", "created_at", "updated_at", "archived_at", "deleted_at", "vector"]
HISTORY_COLUMNS = ["memory_id", "seq", "event", "old_state", "new_state", "old_text", "new_text", "actor", "changed_at"]


def _columns(names: list[str], rows: list[list[Any]]) -> dict[str, np.ndarray]:
    """Rows as numpy columns DuckDB can scan (times and lists as text, cast back in SQL)."""
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        col = [r[i] for r in rows]
        if name in ("vid", "seq"):
            out[name] = np.array(col, dtype=np.int64)
        elif name == "categories":
            out[name] = np.array([json.dumps(x) for x in col], dtype=object)
        elif name.endswith("_at"):
            out[name] = np.array([None if x is None else x.isoformat() for x in col], dtype=object)
        else:
            out[name] = np.array(col, dtype=object)
    return out


def _bulk_insert(con: Connection, rows: list[list[Any]], history: list[list[Any]]) -> None:
    """Many rows: register numpy columns and INSERT ... SELECT (executemany is ~600 rows/s)."""
    if not history:  # an import may carry rows without history
        history = [["", 0, "", None, None, None, None, None, None]]
        skip_history = True
    else:
        skip_history = False
    con.register("_new_memories", _columns(MEMORY_COLUMNS, rows))
    con.register("_new_history", _columns(HISTORY_COLUMNS, history))
    try:
        con.execute(
            """
            INSERT INTO memories
            SELECT id, vid, text, hash, metadata::JSON, categories::JSON::VARCHAR[], app, state,
                   created_at::TIMESTAMP, updated_at::TIMESTAMP,
                   (archived_at::VARCHAR)::TIMESTAMP, (deleted_at::VARCHAR)::TIMESTAMP, vector
            FROM _new_memories
            """
        )
        con.execute(
            """
            INSERT INTO history
            SELECT memory_id, seq, event, old_state::VARCHAR, new_state, old_text::VARCHAR, new_text, actor::VARCHAR,
                   changed_at::TIMESTAMP
            FROM _new_history
            """ + (" WHERE false" if skip_history else "")
        )
    finally:
        con.unregister("_new_memories")
        con.unregister("_new_history")


def _update_memory(rep: ReplayTarget, op: MemoryUpdate, entry: LogEntry) -> None:
    row = rep.con.execute("SELECT vid, state, text FROM memories WHERE id = ?", [op.id]).fetchone()
    if row is None:
        return
    vid, state, old_text = row
    sets = ["updated_at = ?"]
    params: list[object] = [entry.ts]
    if op.text is not None:
        sets += ["text = ?", "hash = ?"]
        params += [op.text, op.hash]
    if op.metadata is not None:
        sets.append("metadata = ?::JSON")
        params.append(json.dumps(op.metadata or {}))
    if op.categories is not None:
        sets.append("categories = ?::JSON::VARCHAR[]")
        params.append(json.dumps(op.categories or []))
        rep.con.execute("DELETE FROM pending_categories WHERE memory_id = ?", [op.id])
    vector = None
    if op.vector is not None:
        vector = decode_vector(op.vector)
        sets.append("vector = ?")
        params.append(vector.tobytes())
    rep.con.execute(f"UPDATE memories SET {', '.join(sets)} WHERE id = ?", [*params, op.id])
    if op.text is not None:
        rep.con.execute(
            "INSERT INTO history VALUES (?, ?, 'update', ?, ?, ?, ?, ?, ?)",
            [op.id, entry.seq, state, state, old_text, op.text, entry.actor, entry.ts],
        )
    if vector is not None and state == "active":
        _index(rep).remove([vid])
        _index(rep).add(np.array([vid]), vector.reshape(1, -1))
    if op.text is not None and state == "active" and rep.lexical is not None:
        rep.lexical.add([vid], [op.text])


def _change_state(rep: ReplayTarget, op: MemoryState, entry: LogEntry) -> None:
    new = op.state
    ids = list(op.ids)
    if not ids:
        return
    rows = rep.con.execute(f"SELECT id, vid, state, vector, text FROM memories WHERE id IN {in_list(len(ids))}", ids).fetchall()
    changed = [r for r in rows if r[2] != new]
    if not changed:
        return
    ids = [r[0] for r in changed]
    extra = ""
    if new == "archived":
        extra = ", archived_at = ?"
    elif new == "deleted":
        extra = ", deleted_at = ?"
    params: list[Any] = [new, entry.ts] + ([entry.ts] if extra else [])
    rep.con.execute(f"UPDATE memories SET state = ?, updated_at = ?{extra} WHERE id IN {in_list(len(ids))}", [*params, *ids])
    rep.con.executemany(
        "INSERT INTO history VALUES (?, ?, 'state', ?, ?, NULL, NULL, ?, ?)",
        [[r[0], entry.seq, r[2], new, entry.actor, entry.ts] for r in changed],
    )
    leaving = [r[1] for r in changed if r[2] == "active"]
    _index(rep).remove(leaving)
    if rep.lexical is not None:
        rep.lexical.remove(leaving)
    if new == "active":
        _index(rep).add(
            np.array([r[1] for r in changed], dtype=np.int64),
            np.stack([np.frombuffer(r[3], dtype="<f4") for r in changed]),
        )
        if rep.lexical is not None:
            rep.lexical.add([r[1] for r in changed], [r[4] for r in changed])


def _pending_categories(rep: ReplayTarget, op: MemoryPending, entry: LogEntry) -> None:
    """Mark memories whose categories a follow-up commit (or maintenance) still has to fill."""
    ids = list(op.ids)
    if ids:
        rep.con.execute(
            f"INSERT INTO pending_categories SELECT id, ? FROM memories WHERE id IN {in_list(len(ids))} "
            "AND id NOT IN (SELECT memory_id FROM pending_categories)",
            [entry.ts, *ids],
        )


def _init(rep: ReplayTarget, op: Init, entry: LogEntry) -> None:
    rep.set_embedder(op.embedder, int(op.dim))


def _app_upsert(rep: ReplayTarget, op: AppUpsert | AppState, entry: LogEntry) -> None:
    exists = rep.con.execute("SELECT 1 FROM apps WHERE name = ?", [op.name]).fetchone()
    if not exists:
        rep.con.execute("INSERT INTO apps VALUES (?, false, ?, ?)", [op.name, entry.ts, entry.ts])


def _app_state(rep: ReplayTarget, op: AppState, entry: LogEntry) -> None:
    _app_upsert(rep, op, entry)
    rep.con.execute("UPDATE apps SET paused = ?, updated_at = ? WHERE name = ?", [bool(op.paused), entry.ts, op.name])


def _rule_add(rep: ReplayTarget, op: RuleAdd, entry: LogEntry) -> None:
    rep.con.execute(
        "INSERT INTO rules VALUES (?, ?, ?, ?, ?, ?)",
        [op.id, op.app, op.effect, op.scope, op.target, entry.ts],
    )


def _rule_delete(rep: ReplayTarget, op: RuleDelete, entry: LogEntry) -> None:
    rep.con.execute("DELETE FROM rules WHERE id = ?", [op.id])


def _category_define(rep: ReplayTarget, op: CategoryDefine, entry: LogEntry) -> None:
    """User-defined category (name + description): insert, or replace the description."""
    updated = rep.con.execute(
        "UPDATE category_defs SET description = ?, updated_at = ? WHERE name = ? RETURNING name",
        [op.description, entry.ts, op.name],
    ).fetchall()
    if not updated:
        rep.con.execute("INSERT INTO category_defs VALUES (?, ?, ?, ?)", [op.name, op.description, entry.ts, entry.ts])


def _category_delete(rep: ReplayTarget, op: CategoryDelete, entry: LogEntry) -> None:
    rep.con.execute("DELETE FROM category_defs WHERE name = ?", [op.name])


# -- imports (ops/importer.py): rows restored with their own ids, times, states and history -------
def _import_memories(rep: ReplayTarget, op: MemoryImport, entry: LogEntry) -> None:
    """Insert the rows of content-addressed parts (engine/blobs.py), optionally only ``ids``.

    Each row keeps its id, state, app, categories, metadata and timestamps. Then the rows of the
    ``history_parts`` for the memories inserted here, as they were, under this entry's seq.
    Memories already present are skipped (a writer replacing a row purges it earlier in the
    same entry).
    """
    wanted = None if op.ids is None else set(op.ids)
    inserted: set[str] = set()
    for part in op.parts:
        rows, vectors = decode_part(rep.store.get(rep.keys.blob(part["sha256"])).body, part["sha256"])
        if vectors.shape[1] != rep.dim:
            raise ValueError(f"vector dimension {vectors.shape[1]} != namespace dimension {rep.dim}")
        keep = [i for i, r in enumerate(rows) if wanted is None or r["id"] in wanted]
        if keep:
            ids = [rows[i]["id"] for i in keep]
            present = {r[0] for r in rep.con.execute(f"SELECT id FROM memories WHERE id IN {in_list(len(ids))}", ids).fetchall()}
            keep = [i for i in keep if rows[i]["id"] not in present]
        if not keep:
            continue
        vids = rep.take_vids(len(keep))
        vecs = np.ascontiguousarray(vectors[keep], dtype=np.float32)
        mem_rows = []
        for i, vid, vec in zip(keep, vids, vecs):
            r = rows[i]
            inserted.add(r["id"])
            mem_rows.append([
                r["id"], int(vid), r["text"], r["hash"], json.dumps(r.get("metadata") or {}), list(r.get("categories") or []),
                r.get("app"), r["state"], parse_ts(r["created_at"]), parse_ts(r["updated_at"]), _ts(r.get("archived_at"), None),
                _ts(r.get("deleted_at"), None), vec.astype("<f4").tobytes(),
            ])
        _bulk_insert(rep.con, mem_rows, [])
        active = np.array([rows[i]["state"] == "active" for i in keep])
        _index(rep).add(vids[active], vecs[active])
        if rep.lexical is not None:
            rep.lexical.add(vids[active], [rows[i]["text"] for i, a in zip(keep, active) if a])
    for part in op.history_parts or []:
        rows, _ = decode_part(rep.store.get(rep.keys.blob(part["sha256"])).body, part["sha256"])
        hist = [
            [h["memory_id"], entry.seq, h["event"], h.get("old_state"), h.get("new_state"), h.get("old_text"), h.get("new_text"),
             h.get("actor"), parse_ts(h["changed_at"])]
            for h in rows if h["memory_id"] in inserted
        ]
        if hist:
            rep.con.register("_new_history", _columns(HISTORY_COLUMNS, hist))
            try:
                rep.con.execute(
                    "INSERT INTO history SELECT memory_id, seq, event, old_state::VARCHAR, new_state::VARCHAR, old_text::VARCHAR, "
                    "new_text::VARCHAR, actor::VARCHAR, changed_at::TIMESTAMP FROM _new_history"
                )
            finally:
                rep.con.unregister("_new_history")


def _purge_memories(rep: ReplayTarget, op: MemoryPurge, entry: LogEntry) -> None:
    """Hard removal (import in replace mode): the row, its history and its index entries."""
    ids = list(op.ids)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        rows = rep.con.execute(f"SELECT vid, state FROM memories WHERE id IN {in_list(len(chunk))}", chunk).fetchall()
        active = [r[0] for r in rows if r[1] == "active"]
        _index(rep).remove(active)
        if rep.lexical is not None:
            rep.lexical.remove(active)
        rep.con.execute(f"DELETE FROM memories WHERE id IN {in_list(len(chunk))}", chunk)
        rep.con.execute(f"DELETE FROM history WHERE memory_id IN {in_list(len(chunk))}", chunk)


def _app_import(rep: ReplayTarget, op: AppImport, entry: LogEntry) -> None:
    rep.con.execute("DELETE FROM apps WHERE name = ?", [op.name])
    rep.con.execute(
        "INSERT INTO apps VALUES (?, ?, ?, ?)",
        [op.name, bool(op.paused), parse_ts(op.created_at), parse_ts(op.updated_at)],
    )


def _app_purge(rep: ReplayTarget, op: AppPurge, entry: LogEntry) -> None:
    names = list(op.names)
    if names:
        rep.con.execute(f"DELETE FROM apps WHERE name IN {in_list(len(names))}", names)


def _rule_import(rep: ReplayTarget, op: RuleImport, entry: LogEntry) -> None:
    if rep.con.execute("SELECT 1 FROM rules WHERE id = ?", [op.id]).fetchone() is None:
        rep.con.execute(
            "INSERT INTO rules VALUES (?, ?, ?, ?, ?, ?)",
            [op.id, op.app, op.effect, op.scope, op.target, parse_ts(op.created_at)],
        )


def _switch_embedder(rep: ReplayTarget, op: EmbedderSwitch, entry: LogEntry) -> None:
    """Every memory gets its vector in the new space (pack format: engine/reindex.py); the index is rebuilt."""
    dim = int(op.dim)
    digests: list[bytes] = []
    blocks: list[np.ndarray] = []
    if op.vectors_key:
        path = cached_object(rep.store, op.vectors_key, str(op.sha256), rep.cache_dir)
        try:
            d, v = unpack(path.read_bytes(), dim)
        finally:
            release(path)
        digests += d
        blocks.append(v)
    inline = op.inline or {}
    if inline.get("digests"):
        digests += [bytes.fromhex(h) for h in inline["digests"]]
        blocks.append(np.stack([decode_vector(x) for x in inline["vectors"]]).astype(np.float32))
    table = np.concatenate(blocks) if blocks else np.empty((0, dim), dtype=np.float32)
    if table.shape[1] != dim:
        raise ValueError(f"switch vectors have {table.shape[1]} dimensions, the op says {dim}")
    row_of = {dg: i for i, dg in enumerate(digests)}

    res = rep.con.execute("SELECT vid, text FROM memories ORDER BY vid").fetchnumpy()
    vids = np.asarray(res["vid"], dtype=np.int64)
    rows = [row_of.get(text_digest(t)) for t in res["text"]]
    missing = sum(r is None for r in rows)
    if missing:
        raise ValueError(f"{EmbedderSwitch.OP} at seq {entry.seq} has no vector for {missing} memories")
    if len(vids):
        new = table[np.asarray(rows, dtype=np.int64)]
        rep.con.register("_switch", {"vid": vids, "vector": np.array([v.tobytes() for v in new], dtype=object)})
        try:
            rep.con.execute("UPDATE memories SET vector = s.vector FROM _switch s WHERE memories.vid = s.vid")
        finally:
            rep.con.unregister("_switch")
    rep.switch_embedder(op.embedder, dim)


HANDLERS: dict[type[Operation], Callable[[ReplayTarget, Any, LogEntry], None]] = {
    MemoryImport: _import_memories,
    MemoryPurge: _purge_memories,
    AppImport: _app_import,
    AppPurge: _app_purge,
    RuleImport: _rule_import,
    Init: _init,
    MemoryUpdate: _update_memory,
    MemoryState: _change_state,
    MemoryPending: _pending_categories,
    AppUpsert: _app_upsert,
    AppState: _app_state,
    RuleAdd: _rule_add,
    RuleDelete: _rule_delete,
    EmbedderSwitch: _switch_embedder,  # re-embedded vectors, a new embedder id/dimension (engine/reindex.py)
    CategoryDefine: _category_define,
    CategoryDelete: _category_delete,
}  # memory.add runs are batched by apply_entries; namespace.restore is the replica's (engine/replica.py)
OP_TYPES = frozenset(cls.OP for cls in HANDLERS) | {MemoryAdd.OP}


def apply_entries(rep: ReplayTarget, entries: list[LogEntry]) -> None:
    """Apply entries in order, then advance the replica's sequence to the last one.

    Runs of memory.add ops are inserted together, across entries: a replica catching up on
    several writers' commits pays two statements, not two per entry. No DuckDB transaction: a
    failure part-way makes the caller drop the whole replica (a cache of the bucket), so a
    half-applied entry is never queried.
    """
    run: list[tuple[MemoryAdd, LogEntry]] = []
    for entry in entries:
        for doc in entry.ops:
            op = parse_op(doc)
            if isinstance(op, MemoryAdd):
                run.append((op, entry))
                continue
            if run:
                _add_memories(rep, run)
                run = []
            HANDLERS[type(op)](rep, op, entry)
    if run:
        _add_memories(rep, run)
    if entries:
        rep.advance(entries[-1].seq)
