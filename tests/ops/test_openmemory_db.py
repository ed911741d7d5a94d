"""`import --from-openmemory-db`: an OpenMemory install's SQLite database, read without its server.

The database is built here with OpenMemory's table layout as SQLAlchemy writes it on SQLite
(UUIDs as 32 hex characters, enums by name, naive datetimes as text, JSON as text, booleans 0/1).
"""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from membucket import errors, ops
from membucket.ops.openmemory_db import import_openmemory_db

SCHEMA = """
CREATE TABLE users (id CHAR(32) PRIMARY KEY, user_id VARCHAR NOT NULL UNIQUE, name VARCHAR, email VARCHAR,
    metadata JSON, created_at DATETIME, updated_at DATETIME);
CREATE TABLE apps (id CHAR(32) PRIMARY KEY, owner_id CHAR(32) NOT NULL REFERENCES users(id), name VARCHAR NOT NULL,
    description VARCHAR, metadata JSON, is_active BOOLEAN, created_at DATETIME, updated_at DATETIME);
CREATE TABLE memories (id CHAR(32) PRIMARY KEY, user_id CHAR(32) NOT NULL REFERENCES users(id),
    app_id CHAR(32) NOT NULL REFERENCES apps(id), content VARCHAR NOT NULL, vector VARCHAR, metadata JSON,
    state VARCHAR(8), created_at DATETIME, updated_at DATETIME, archived_at DATETIME, deleted_at DATETIME);
CREATE TABLE categories (id CHAR(32) PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, description VARCHAR,
    created_at DATETIME, updated_at DATETIME);
CREATE TABLE memory_categories (memory_id CHAR(32) NOT NULL REFERENCES memories(id),
    category_id CHAR(32) NOT NULL REFERENCES categories(id), PRIMARY KEY (memory_id, category_id));
CREATE TABLE access_controls (id CHAR(32) PRIMARY KEY, subject_type VARCHAR NOT NULL, subject_id CHAR(32),
    object_type VARCHAR NOT NULL, object_id CHAR(32), effect VARCHAR NOT NULL, created_at DATETIME);
CREATE TABLE memory_status_history (id CHAR(32) PRIMARY KEY, memory_id CHAR(32) NOT NULL REFERENCES memories(id),
    changed_by CHAR(32) NOT NULL REFERENCES users(id), old_state VARCHAR(8) NOT NULL, new_state VARCHAR(8) NOT NULL,
    changed_at DATETIME);
CREATE TABLE memory_access_logs (id CHAR(32) PRIMARY KEY, memory_id CHAR(32) NOT NULL, app_id CHAR(32) NOT NULL,
    accessed_at DATETIME, access_type VARCHAR NOT NULL, metadata JSON);
CREATE TABLE configs (id CHAR(32) PRIMARY KEY, key VARCHAR NOT NULL UNIQUE, value JSON NOT NULL,
    created_at DATETIME, updated_at DATETIME);
"""


def hexid() -> str:
    return uuid.uuid4().hex


def dashed(h: str) -> str:
    return str(uuid.UUID(h))


def build_db(path) -> dict:
    alice, bob = hexid(), hexid()
    cursor, claude, bobs_app = hexid(), hexid(), hexid()
    health, work = hexid(), hexid()
    m = {k: hexid() for k in ("active", "archived", "deleted", "paused", "bobs")}
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    ts = "2025-01-05 08:00:00.000000"
    db.executemany("INSERT INTO users VALUES (?,?,?,?,?,?,?)",
                   [(alice, "alice", "Alice", None, "{}", ts, ts), (bob, "bob", "Bob", None, "{}", ts, ts)])
    db.executemany("INSERT INTO apps VALUES (?,?,?,?,?,?,?,?)", [
        (cursor, alice, "cursor", None, "{}", 1, "2025-01-01 10:00:00.000000", "2025-01-01 10:00:00.000000"),
        (claude, alice, "claude", None, "{}", 0, "2025-01-02 10:00:00.000000", "2025-03-01 10:00:00.000000"),  # paused
        (bobs_app, bob, "cursor", None, "{}", 1, ts, ts),
    ])
    db.executemany("INSERT INTO memories VALUES (?,?,?,?,?,?,?,?,?,?,?)", [
        (m["active"], alice, cursor, "Takes insulin every morning", None, '{"k": "v"}', "active",
         "2025-01-05 08:00:00.000000", "2025-01-05 08:00:00.000000", None, None),
        (m["archived"], alice, claude, "Leads the payments team", None, "{}", "archived",
         "2025-01-06 08:00:00.000000", "2025-02-06 08:00:00.000000", "2025-02-06 08:00:00.000000", None),
        (m["deleted"], alice, cursor, "Used to live in Lyon", None, None, "deleted",
         "2025-01-07 08:00:00.000000", "2025-02-07 08:00:00.000000", None, "2025-02-07 08:00:00.000000"),
        (m["paused"], alice, cursor, "Owns a red bicycle", None, "{}", "paused",
         "2025-01-08 08:00:00.000000", "2025-01-09 08:00:00.000000", None, None),
        (m["bobs"], bob, bobs_app, "Bob's secret recipe", None, "{}", "active", ts, ts, None, None),
    ])
    db.executemany("INSERT INTO categories VALUES (?,?,?,?,?)", [(health, "health", "", ts, ts), (work, "Work", "", ts, ts)])
    db.executemany("INSERT INTO memory_categories VALUES (?,?)",
                   [(m["active"], health), (m["archived"], work), (m["bobs"], work)])
    db.executemany("INSERT INTO memory_status_history VALUES (?,?,?,?,?,?)", [
        (hexid(), m["archived"], alice, "active", "archived", "2025-02-06 08:00:00.000000"),
        (hexid(), m["deleted"], alice, "active", "deleted", "2025-02-07 08:00:00.000000"),
        (hexid(), m["paused"], alice, "active", "paused", "2025-01-09 08:00:00.000000"),
        (hexid(), m["bobs"], bob, "active", "paused", ts),
    ])
    db.executemany("INSERT INTO access_controls VALUES (?,?,?,?,?,?,?)", [
        (hexid(), "app", claude, "category", health, "deny", ts),  # claude may not read health memories
        (hexid(), "app", cursor, "memory", m["archived"], "deny", ts),
        (hexid(), "app", bobs_app, "memory", m["bobs"], "deny", ts),  # bob's: not brought over
    ])
    db.execute("INSERT INTO memory_access_logs VALUES (?,?,?,?,?,?)", (hexid(), m["active"], cursor, ts, "search", "{}"))
    db.commit()
    db.close()
    return {k: dashed(v) for k, v in m.items()}


@pytest.fixture
def om_db(tmp_path):
    path = tmp_path / "openmemory.db"
    return path, build_db(path)


def seq(ctx) -> int:
    with ctx.ns.read() as rep:
        return rep.seq


def test_database_import_keeps_apps_states_categories_rules_and_history(mb, om_db):
    path, ids = om_db
    ctx = mb.context("alice")
    result = import_openmemory_db(ctx, path, user="alice")
    assert (result.format, result.added) == ("openmemory", 4)
    active, archived, deleted, paused = (ops.get(ctx, ids[k]) for k in ("active", "archived", "deleted", "paused"))
    assert (active.app, active.state, active.categories, active.metadata) == ("cursor", "active", ["health"], {"k": "v"})
    assert (archived.app, archived.state, archived.categories, archived.archived_at) == (
        "claude", "archived", ["work"], "2025-02-06T08:00:00.000000Z")
    assert (deleted.state, deleted.deleted_at) == ("deleted", "2025-02-07T08:00:00.000000Z")
    assert (paused.state, paused.created_at) == ("paused", "2025-01-08T08:00:00.000000Z")
    assert {a.name: a.paused for a in ops.list_apps(ctx)} == {"cursor": False, "claude": True}
    rules = {(r.app, r.effect, r.scope, r.target) for r in ops.list_rules(ctx)}
    assert rules == {("claude", "deny", "category", "health"), ("cursor", "deny", "memory", ids["archived"])}
    assert [(h.event, h.old_state, h.new_state, h.actor) for h in ops.history(ctx, ids["deleted"])] == [
        ("add", None, "active", "cursor"), ("state", "active", "deleted", "alice")]
    assert ops.search(ctx, "insulin")[0].id == ids["active"]  # embedded again with the current embedder
    with pytest.raises(errors.NotFoundError):
        ops.get(ctx, ids["bobs"])  # another OpenMemory user's rows stay behind
    # the paused app is paused here too
    with pytest.raises(errors.Forbidden):
        ops.search(mb.context("alice", app="claude"), "payments")
    before = seq(ctx)
    again = import_openmemory_db(ctx, path, user="alice")
    assert (again.added, seq(ctx)) == (0, before)  # idempotent: nothing committed the second time


def test_several_users_need_a_name_and_bad_files_are_refused(mb, om_db, tmp_path):
    path, _ = om_db
    ctx = mb.context("alice")
    with pytest.raises(errors.InvalidInput, match="alice, bob"):
        import_openmemory_db(ctx, path)
    with pytest.raises(errors.InvalidInput, match="carol"):
        import_openmemory_db(ctx, path, user="carol")
    other = tmp_path / "other.db"
    sqlite3.connect(other).executescript("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
    with pytest.raises(errors.BundleInvalid, match="not an OpenMemory database"):
        import_openmemory_db(ctx, other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(errors.BundleInvalid):
        import_openmemory_db(ctx, junk)
    assert seq(ctx) == 0


def test_a_single_user_database_needs_no_name(mb, om_db):
    path, ids = om_db
    db = sqlite3.connect(path)
    bob = db.execute("SELECT id FROM users WHERE user_id = 'bob'").fetchone()[0]
    for table, col in (("memory_status_history", "changed_by"), ("memories", "user_id"), ("apps", "owner_id"), ("users", "id")):
        db.execute(f"DELETE FROM {table} WHERE {col} = ?", (bob,))
    db.commit()
    db.close()
    ctx = mb.context("alice")
    assert import_openmemory_db(ctx, path).added == 4
