"""The DuckDB schema of a replica: the record of one namespace (vectors included).

Timestamps are naive UTC. Vectors are little-endian float32 BLOBs (fast to move in bulk from
numpy; an export turns them into lists). ``vid`` is the integer id FAISS knows a memory by,
assigned in replay order, so replay is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import duckdb
import numpy as np

__all__ = ["create_schema", "SCHEMA_VERSION", "in_list", "Connection", "connect", "Row", "Params", "vector_rows"]

# DuckDB's Python API is untyped; this module is the one place its results get a type.
Row = tuple[Any, ...]
Params = Sequence[object] | dict[str, object]


class _Result:
    """A query result that is always read to the end.

    DuckDB 2 refuses new work on a connection whose last result is unfinished (a streaming
    result read with ``fetchone()``), so every fetch here drains the result.
    """

    __slots__ = ("_result",)

    def __init__(self, result: duckdb.DuckDBPyConnection) -> None:
        self._result = result

    def fetchone(self) -> Row | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    def fetchall(self) -> list[Row]:
        rows: list[Row] = self._result.fetchall()
        return rows

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        columns: dict[str, np.ndarray] = self._result.fetchnumpy()
        return columns


class Connection:
    """The replica's DuckDB connection, with results that cannot be left half-read."""

    __slots__ = ("raw",)

    def __init__(self, raw: duckdb.DuckDBPyConnection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params | None = None) -> _Result:
        return _Result(self.raw.execute(sql, params) if params is not None else self.raw.execute(sql))

    def executemany(self, sql: str, params: Iterable[Params]) -> None:
        self.raw.executemany(sql, params)

    def register(self, name: str, data: object) -> None:
        self.raw.register(name, data)

    def unregister(self, name: str) -> None:
        self.raw.unregister(name)

    def close(self) -> None:
        self.raw.close()


def connect(threads: int | None = None) -> Connection:
    """A fresh in-memory database (``threads``: cap its worker threads; None: DuckDB's default, one per core)."""
    con = Connection(duckdb.connect(":memory:"))
    con.execute("SET enable_progress_bar = false")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    return con


def vector_rows(res: dict[str, np.ndarray], dim: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(vids, float32 matrix) from a fetched ``vid, vector`` result (``memories.vector`` BLOBs)."""
    vids = np.asarray(res["vid"], dtype=np.int64)
    if len(vids) == 0:
        return vids, np.empty((0, dim or 0), dtype=np.float32)
    flat = np.frombuffer(b"".join(res["vector"]), dtype="<f4")  # already float32: no copy
    return vids, flat.reshape(len(vids), -1)


def in_list(n: int) -> str:
    """``(?, ?, ...)`` for an IN filter: unlike list_contains(), it can use the ART indexes."""
    return "(" + ", ".join("?" * n) + ")"

SCHEMA_VERSION = 1

DDL = """
CREATE TABLE IF NOT EXISTS kv (seq BIGINT, embedder VARCHAR, dim INTEGER, next_vid BIGINT, access_after VARCHAR);
CREATE TABLE IF NOT EXISTS memories (
    id VARCHAR NOT NULL,
    vid BIGINT NOT NULL,
    text VARCHAR NOT NULL,
    hash VARCHAR NOT NULL,
    metadata JSON,
    categories VARCHAR[] NOT NULL,
    app VARCHAR,
    state VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    archived_at TIMESTAMP,
    deleted_at TIMESTAMP,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS memories_vid ON memories (vid);
CREATE INDEX IF NOT EXISTS memories_id ON memories (id);
CREATE INDEX IF NOT EXISTS memories_hash ON memories (hash);
CREATE TABLE IF NOT EXISTS apps (
    name VARCHAR NOT NULL,
    paused BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS rules (
    id VARCHAR NOT NULL,
    app VARCHAR NOT NULL,
    effect VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    target VARCHAR,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS category_defs (
    name VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    memory_id VARCHAR NOT NULL,
    seq BIGINT NOT NULL,
    event VARCHAR NOT NULL,
    old_state VARCHAR,
    new_state VARCHAR,
    old_text VARCHAR,
    new_text VARCHAR,
    actor VARCHAR,
    changed_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_categories (
    memory_id VARCHAR NOT NULL,
    since TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS access_log (
    key VARCHAR NOT NULL,
    app VARCHAR,
    op VARCHAR,
    query VARCHAR,
    memory_id VARCHAR NOT NULL,
    score DOUBLE,
    accessed_at TIMESTAMP NOT NULL
);
"""


def create_schema(con: Connection) -> None:
    con.execute(DDL)
    if not con.execute("SELECT 1 FROM kv LIMIT 1").fetchall():
        con.execute("INSERT INTO kv VALUES (0, NULL, NULL, 1, '')")
