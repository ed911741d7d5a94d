"""Compare replicas: everything a namespace holds, as plain sorted data."""

from __future__ import annotations


def dump(rep) -> dict:
    con = rep.con
    return {
        "seq": rep.seq,
        "memories": con.execute(
            "SELECT id, vid, text, hash, metadata::VARCHAR, categories, app, state, created_at, updated_at, "
            "archived_at, deleted_at, vector FROM memories ORDER BY id"
        ).fetchall(),
        "apps": con.execute("SELECT * FROM apps ORDER BY name").fetchall(),
        "rules": con.execute("SELECT * FROM rules ORDER BY id").fetchall(),
        "history": con.execute("SELECT * FROM history ORDER BY memory_id, seq, event").fetchall(),
        "index": sorted(rep.index.ids().tolist()) if rep.index is not None else [],
    }
