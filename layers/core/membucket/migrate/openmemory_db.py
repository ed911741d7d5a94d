"""Read an OpenMemory install's SQLite database (a foreign file, never the replica) into the
document OpenMemory's export zip holds (``memories.json``).

OpenMemory (mem0's ``openmemory/api/app/models.py``) keeps ``users``, ``apps``, ``memories``,
``categories``, ``memory_categories``, ``access_controls`` and ``memory_status_history`` through
SQLAlchemy: UUIDs as 32 hex characters, enums by name, datetimes as naive UTC text, JSON as text.
Only the reading lives here, so no SQL sits in ops/; mapping the document to a bundle and
importing it is ops' (``ops.openmemory_db``).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from ..errors import BundleInvalid, InvalidInput

__all__ = ["read_openmemory_db"]

_TABLES = ("users", "apps", "memories")


def _id(value: Any) -> str | None:
    """SQLAlchemy's UUID column on SQLite is 32 hex characters; the export writes the dashed form."""
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def _json(value: Any) -> Any:
    if value is None or isinstance(value, (dict, list)):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None


def _rows(db: sqlite3.Connection, sql: str, args: tuple = ()) -> list[dict]:
    return [dict(r) for r in db.execute(sql, args)]


def _has(db: sqlite3.Connection, table: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def read_openmemory_db(path: str | Path, user: str | None = None) -> dict:
    """One OpenMemory user's rows as an export document. ``user`` is OpenMemory's ``user_id``;
    it may be left out when the database holds a single user."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no OpenMemory database at {path}")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BundleInvalid(f"{path} is not a readable SQLite database: {exc}") from None
    db.row_factory = sqlite3.Row
    try:
        missing = [t for t in _TABLES if not _has(db, t)]
        if missing:
            raise BundleInvalid(f"{path} is not an OpenMemory database: no {', '.join(missing)} table")
        return _document(db, user)
    except sqlite3.DatabaseError as exc:
        raise BundleInvalid(f"{path}: {exc}") from None
    finally:
        db.close()


def _document(db: sqlite3.Connection, user: str | None) -> dict:
    users = _rows(db, "SELECT id, user_id FROM users ORDER BY user_id")
    if user is None:
        if len(users) != 1:
            listed = ", ".join(str(u["user_id"]) for u in users) or "none"
            raise InvalidInput(f"the database holds {len(users)} users ({listed}): name one with --openmemory-user")
        owner = users[0]
    else:
        found = [u for u in users if u["user_id"] == user]
        if not found:
            raise InvalidInput(f"no OpenMemory user {user!r} in the database")
        owner = found[0]
    uid = owner["id"]
    names = {u["id"]: str(u["user_id"]) for u in users}
    apps = _rows(db, "SELECT * FROM apps WHERE owner_id = ?", (uid,))
    memories = _rows(db, "SELECT * FROM memories WHERE user_id = ?", (uid,))
    ids = {m["id"] for m in memories}
    app_ids = {a["id"] for a in apps}
    doc: dict[str, list] = {
        "apps": [{"id": _id(a["id"]), "name": a["name"], "is_active": a.get("is_active") not in (0, False, "0"),
                  "created_at": a.get("created_at"), "updated_at": a.get("updated_at")} for a in apps],
        "memories": [{"id": _id(m["id"]), "app_id": _id(m["app_id"]), "content": m["content"], "state": m.get("state") or "active",
                      "metadata": _json(m.get("metadata")), "created_at": m.get("created_at"), "updated_at": m.get("updated_at"),
                      "archived_at": m.get("archived_at"), "deleted_at": m.get("deleted_at")} for m in memories],
        "categories": [], "memory_categories": [], "status_history": [], "access_controls": [],
    }
    if _has(db, "categories") and _has(db, "memory_categories"):
        doc["categories"] = [{"id": _id(c["id"]), "name": c["name"]} for c in _rows(db, "SELECT id, name FROM categories")]
        doc["memory_categories"] = [{"memory_id": _id(r["memory_id"]), "category_id": _id(r["category_id"])}
                                    for r in _rows(db, "SELECT memory_id, category_id FROM memory_categories") if r["memory_id"] in ids]
    if _has(db, "memory_status_history"):
        doc["status_history"] = [
            {"memory_id": _id(h["memory_id"]), "old_state": h["old_state"], "new_state": h["new_state"],
             "changed_by": names.get(h["changed_by"], _id(h["changed_by"])), "changed_at": h["changed_at"]}
            for h in _rows(db, "SELECT * FROM memory_status_history ORDER BY changed_at") if h["memory_id"] in ids
        ]
    if _has(db, "access_controls"):
        # rules whose subject is one of this user's apps; the bundle mapping skips (and notes) the rest
        doc["access_controls"] = [
            {"id": _id(r["id"]), "subject_type": r["subject_type"], "subject_id": _id(r["subject_id"]),
             "object_type": r["object_type"], "object_id": _id(r["object_id"]), "effect": r["effect"], "created_at": r.get("created_at")}
            for r in _rows(db, "SELECT * FROM access_controls") if r["subject_type"] != "app" or r["subject_id"] in app_ids
        ]
    return doc

