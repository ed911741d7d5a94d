"""Export bundles and imports: round trips, encryption, damage, idempotence, modes, OpenMemory."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

import pytest
from membucket import errors, ops
from membucket.ops.export import ExportFilters, export_bundle
from membucket.ops.importer import import_bundle

from tests.support.bundles import rezip
from tests.support.embedders import HashEmbedder
from tests.support.factories import make_mb


def seed(ctx_owner, mb):
    """Alice's memory with every kind of state, two apps (one paused), rules and history."""
    cursor, claude = mb.context("alice", app="cursor"), mb.context("alice", app="claude")
    a = ops.add(cursor, "Alice takes insulin every morning", categories=["health"], metadata={"source": "chat", "n": 1}).events[0].id
    b = ops.add(claude, "Alice leads the payments team at work", categories=["work"]).events[0].id
    c = ops.add(cursor, "Alice bought a red bicycle last spring", categories=["hobby"]).events[0].id
    d = ops.add(ctx_owner, "Alice lived in Lisbon for three years").events[0].id
    e = ops.add(ctx_owner, "Alice prefers tea over coffee").events[0].id
    ops.update(ctx_owner, d, text="Alice lived in Lisbon for four years")
    ops.change_state(ctx_owner, [b], "paused")
    ops.change_state(ctx_owner, [c], "archived")
    ops.delete(ctx_owner, [e])
    ops.add_rule(ctx_owner, "claude", "deny", "category", "health")
    ops.add_rule(ctx_owner, "cursor", "allow", "memory", a)
    ops.set_app_paused(ctx_owner, "claude", True)
    ops.search(cursor, "insulin")  # an access-log record
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def snapshot(ctx) -> dict:
    """Everything an import must keep, as compared data (history without its seq)."""
    with ctx.ns.read() as rep:
        con = rep.con
        return {
            "memories": con.execute(
                "SELECT id, text, hash, metadata::VARCHAR, categories, app, state, created_at, updated_at, archived_at, deleted_at, vector "
                "FROM memories ORDER BY id").fetchall(),
            "apps": con.execute("SELECT * FROM apps ORDER BY name").fetchall(),
            "rules": con.execute("SELECT * FROM rules ORDER BY id").fetchall(),
            "history": con.execute(
                "SELECT memory_id, event, old_state, new_state, old_text, new_text, actor, changed_at FROM history "
                "ORDER BY memory_id, changed_at, event").fetchall(),
            "index": sorted(rep.index.ids().tolist()) if rep.index is not None else [],
        }


def export_bytes(ctx, **kw) -> tuple[bytes, dict]:
    buf = io.BytesIO()
    manifest = export_bundle(ctx, buf, **kw)
    return buf.getvalue(), manifest


def seq_of(ctx) -> int:
    with ctx.ns.read() as rep:
        return rep.seq


@pytest.fixture
def alice(mb, owner):
    return seed(owner, mb)


def test_round_trip_into_a_fresh_user_keeps_everything(mb, owner, alice):
    data, manifest = export_bytes(owner)
    assert manifest["user"] == "alice" and manifest["seq"] == seq_of(owner)
    assert manifest["counts"]["memories"] == 5 and manifest["counts"]["apps"] == 2 and manifest["counts"]["rules"] == 2
    assert manifest["counts"]["access_log"] >= 1
    assert (manifest["embedder"], manifest["dim"]) == ("test/hash-64", 64)
    bob = mb.context("bob")
    result = import_bundle(bob, io.BytesIO(data), mode="merge")
    assert (result.added, result.updated, result.skipped, result.purged, result.format) == (5, 0, 0, 0, "membucket")
    assert snapshot(bob)["memories"] == snapshot(owner)["memories"]
    assert snapshot(bob) == snapshot(owner) | {"index": snapshot(bob)["index"]}
    assert len(snapshot(bob)["index"]) == 2  # the active memories are searchable, the others not
    for query in ("insulin", "Lisbon years", "tea"):
        assert [h.id for h in ops.search(bob, query)] == [h.id for h in ops.search(owner, query)]
    assert [h.to_dict() for h in ops.history(bob, alice["d"])] != []
    assert ops.get_app(bob, "claude").paused is True
    # rules still work: claude (resumed) may not see health memories in bob's copy either
    ops.set_app_paused(bob, "claude", False)
    ops.set_app_paused(owner, "claude", False)
    ops.change_state(bob, [alice["b"]], "active")
    ops.change_state(owner, [alice["b"]], "active")
    seen = {h.id for h in ops.search(mb.context("bob", app="claude"), "Alice")}
    assert alice["b"] in seen and alice["a"] not in seen  # the health deny rule came along
    assert seen == {h.id for h in ops.search(mb.context("alice", app="claude"), "Alice")}


def test_import_twice_commits_once(mb, owner, alice):
    data, _ = export_bytes(owner)
    bob = mb.context("bob")
    import_bundle(bob, io.BytesIO(data))
    seq = seq_of(bob)
    blobs = sorted(i.key for i in mb.store.list("ns/bob/blobs/"))
    for mode in ("merge", "replace"):
        again = import_bundle(bob, io.BytesIO(data), mode=mode)
        assert (again.added, again.updated, again.purged, again.skipped) == (0, 0, 0, 5)
        assert seq_of(bob) == seq == again.seq
    assert sorted(i.key for i in mb.store.list("ns/bob/blobs/")) == blobs  # nothing uploaded either


def test_import_into_self_is_a_no_op(owner, alice):
    data, _ = export_bytes(owner)
    seq = seq_of(owner)
    assert import_bundle(owner, io.BytesIO(data), mode="replace").seq == seq


def test_encrypted_round_trip_and_wrong_passphrase(mb, owner, alice):
    data, _ = export_bytes(owner, passphrase="correct horse")
    assert data[:4] == b"MBX1" and b"insulin" not in data
    bob = mb.context("bob")
    with pytest.raises(errors.BundleEncrypted):
        import_bundle(bob, io.BytesIO(data))
    with pytest.raises(errors.BadPassphrase):
        import_bundle(bob, io.BytesIO(data), passphrase="wrong horse")
    assert seq_of(bob) == 0
    assert import_bundle(bob, io.BytesIO(data), passphrase="correct horse").added == 5
    assert snapshot(bob)["memories"] == snapshot(owner)["memories"]


def test_encrypted_large_bundle_in_many_chunks(mb, owner, monkeypatch):
    from membucket.ops import encryption

    monkeypatch.setattr(encryption.EncryptingWriter.__init__, "__defaults__", (4096,))  # chunk_size
    ops.add_batch(owner, [ops.NewMemory(f"memory number {i} about topic {i % 7}") for i in range(300)])
    data, _ = export_bytes(owner, passphrase="pw")
    assert len(data) > 8 * 4096 and json.loads(data[8 : 8 + int.from_bytes(data[4:8], "big")])["chunk_size"] == 4096
    bob = mb.context("bob")
    assert import_bundle(bob, io.BytesIO(data), passphrase="pw").added == 300


def _chunks(data: bytes) -> tuple[bytes, list[bytes]]:
    import struct

    hlen = struct.unpack(">I", data[4:8])[0]
    head, pos, chunks = data[: 8 + hlen], 8 + hlen, []
    while pos < len(data):
        n = struct.unpack(">I", data[pos : pos + 4])[0]
        chunks.append(data[pos : pos + 4 + n])
        pos += 4 + n
    return head, chunks


@pytest.mark.parametrize("damage", ["truncate_chunk", "drop_last_chunk", "swap_chunks", "flip_byte"])
def test_damaged_encrypted_bundles_are_refused_without_a_write(mb, owner, damage):
    from membucket.ops import encryption

    ops.add_batch(owner, [ops.NewMemory(f"memory number {i}") for i in range(200)])
    buf = io.BytesIO()
    w = encryption.EncryptingWriter(buf, "pw", chunk_size=2048)  # small chunks: many to damage
    export_bundle(owner, w)
    w.close()
    data = buf.getvalue()
    head, chunks = _chunks(data)
    assert len(chunks) >= 3
    if damage == "truncate_chunk":
        data = data[:-7]
    elif damage == "drop_last_chunk":
        data = head + b"".join(chunks[:-1])
    elif damage == "swap_chunks":
        data = head + chunks[1] + chunks[0] + b"".join(chunks[2:])
    else:
        mid = len(head) + len(chunks[0]) + 10
        data = data[:mid] + bytes([data[mid] ^ 1]) + data[mid + 1 :]
    bob = mb.context("bob")
    with pytest.raises(errors.BundleChecksum):
        import_bundle(bob, io.BytesIO(data), passphrase="pw")
    assert seq_of(bob) == 0 and list(mb.store.list("ns/bob/")) == []


@pytest.mark.parametrize("params", [{"n": 2**24}, {"r": 1024}, {"n": 3}, {"chunk_size": 1 << 40}])
def test_an_encrypted_header_cannot_demand_unbounded_work(mb, owner, params):
    import struct

    ops.add(owner, "a memory")
    data, _ = export_bytes(owner, passphrase="pw")
    hlen = struct.unpack(">I", data[4:8])[0]
    header = json.loads(data[8 : 8 + hlen]) | params
    raw = json.dumps(header).encode()
    bad = data[:4] + struct.pack(">I", len(raw)) + raw + data[8 + hlen :]
    with pytest.raises(errors.BundleInvalid):
        import_bundle(mb.context("bob"), io.BytesIO(bad), passphrase="pw")


def _tamper_text(files):
    files["memories.jsonl"] = files["memories.jsonl"].replace(b"insulin", b"insuliN")


def _bad_state_with_fixed_checksum(files):
    import hashlib

    files["memories.jsonl"] = files["memories.jsonl"].replace(b'"state":"active"', b'"state":"frozen"', 1)
    m = json.loads(files["manifest.json"])
    m["parts"]["memories.jsonl"]["sha256"] = hashlib.sha256(files["memories.jsonl"]).hexdigest()
    files["manifest.json"] = json.dumps(m).encode()


def _bad_vector(files):
    import hashlib

    lines = files["memories.jsonl"].splitlines()
    doc = json.loads(lines[-1])
    doc["vector"] = doc["vector"][:20]
    lines[-1] = json.dumps(doc).encode()
    files["memories.jsonl"] = b"\n".join(lines) + b"\n"
    m = json.loads(files["manifest.json"])
    m["parts"]["memories.jsonl"]["sha256"] = hashlib.sha256(files["memories.jsonl"]).hexdigest()
    files["manifest.json"] = json.dumps(m).encode()


def _long_line(files):
    import hashlib

    files["history.jsonl"] = b"[" * (5 << 20) + b"\n"  # no row is that long: refused, not buffered
    m = json.loads(files["manifest.json"])
    m["parts"]["history.jsonl"]["sha256"] = hashlib.sha256(files["history.jsonl"]).hexdigest()
    files["manifest.json"] = json.dumps(m).encode()


@pytest.mark.parametrize("change,code", [
    (_tamper_text, "bundle_checksum"),
    (lambda f: f.pop("rules.jsonl"), "bundle_invalid"),
    (lambda f: f.update({"manifest.json": b"{not json"}), "bundle_invalid"),
    (lambda f: f.update({"manifest.json": f["manifest.json"].replace(b'"schema_version": 1', b'"schema_version": 99')}), "bundle_invalid"),
    (_bad_state_with_fixed_checksum, "bundle_invalid"),
    (_bad_vector, "bundle_invalid"),
    (_long_line, "bundle_invalid"),
])
def test_invalid_bundles_are_refused_before_any_write(mb, owner, alice, change, code):
    data, _ = export_bytes(owner)
    bad = rezip(data, change)
    bob = mb.context("bob")
    ops.add(bob, "bob's own memory")
    seq = seq_of(bob)
    with pytest.raises(errors.BundleInvalid) as info:
        import_bundle(bob, io.BytesIO(bad), mode="replace")
    assert info.value.code == code and info.value.status == 422
    assert seq_of(bob) == seq
    assert list(mb.store.list("ns/bob/blobs/")) == []


def test_truncated_and_foreign_files_are_refused(mb, owner, alice):
    data, _ = export_bytes(owner)
    bob = mb.context("bob")
    for bad in (data[: len(data) // 2], b"hello world", b""):
        with pytest.raises(errors.BundleInvalid):
            import_bundle(bob, io.BytesIO(bad))
    assert seq_of(bob) == 0


def test_embedder_mismatch_needs_reembed(tmp_path, owner, alice, mb):
    data, _ = export_bytes(owner)
    other = make_mb(str(tmp_path / "bucket"), tmp_path / "cache2", embedder=HashEmbedder(dim=32, id="test/hash-32"))
    carol = other.context("carol")
    with pytest.raises(errors.EmbedderMismatch) as info:
        import_bundle(carol, io.BytesIO(data))
    assert info.value.status == 409 and seq_of(carol) == 0
    result = import_bundle(carol, io.BytesIO(data), reembed=True)
    assert result.added == 5
    with carol.ns.read() as rep:
        assert rep.embedder == "test/hash-32" and rep.dim == 32
    assert ops.search(carol, "insulin morning")[0].id == alice["a"]
    assert ops.get(carol, alice["c"]).state == "archived"


def test_merge_keeps_newer_and_replace_makes_equal(mb, owner, alice):
    old, _ = export_bytes(owner)
    bob = mb.context("bob")
    import_bundle(bob, io.BytesIO(old))
    # the source moves on: one edit, one new memory
    ops.update(owner, alice["a"], text="Alice takes insulin every evening")
    new_id = ops.add(owner, "Alice adopted a cat named Miso").events[0].id
    newer, _ = export_bytes(owner)
    # bob edits another memory locally, and adds one of his own
    ops.update(bob, alice["d"], text="Alice lived in Lisbon for five years")
    own = ops.add(bob, "Bob's own note").events[0].id

    merged = import_bundle(bob, io.BytesIO(newer), mode="merge")
    assert (merged.added, merged.updated, merged.purged) == (1, 1, 0)
    assert ops.get(bob, alice["a"]).text.endswith("evening")  # newer in the bundle: taken
    assert ops.get(bob, alice["d"]).text.endswith("five years")  # newer locally: kept
    assert ops.get(bob, own).text == "Bob's own note" and ops.get(bob, new_id)

    # merging an OLDER bundle changes nothing
    assert import_bundle(bob, io.BytesIO(old), mode="merge").updated == 0

    replaced = import_bundle(bob, io.BytesIO(newer), mode="replace")
    assert replaced.purged == 1 and replaced.updated == 1
    assert snapshot(bob) | {"index": []} == snapshot(owner) | {"index": []}
    with pytest.raises(errors.NotFoundError):
        ops.get(bob, own)
    assert [h.id for h in ops.search(bob, "cat Miso")] == [h.id for h in ops.search(owner, "cat Miso")]


def test_replace_removes_apps_and_rules_not_in_the_bundle(mb, owner, alice):
    data, _ = export_bytes(owner)
    bob = mb.context("bob")
    ops.add_rule(bob, "windsurf", "deny")
    import_bundle(bob, io.BytesIO(data), mode="replace")
    assert {a.name for a in ops.list_apps(bob)} == {"claude", "cursor"}
    assert {r.id for r in ops.list_rules(bob)} == {r.id for r in ops.list_rules(owner)}


def test_export_filters(owner, alice):
    _, m = export_bytes(owner, filters=ExportFilters.parse(app="cursor"))
    assert m["counts"]["memories"] == 2
    data, m = export_bytes(owner, filters=ExportFilters.parse(states=["archived", "deleted"]))
    ids = {json.loads(line)["id"] for line in zipfile.ZipFile(io.BytesIO(data)).read("memories.jsonl").splitlines()}
    assert ids == {alice["c"], alice["e"]}
    hist = {json.loads(line)["memory_id"] for line in zipfile.ZipFile(io.BytesIO(data)).read("history.jsonl").splitlines()}
    assert hist == ids
    _, m = export_bytes(owner, filters=ExportFilters.parse(created_after="2999-01-01T00:00:00Z"))
    assert m["counts"]["memories"] == 0
    with pytest.raises(errors.InvalidState):
        ExportFilters.parse(states=["frozen"])


def test_apps_cannot_export_or_import(mb, owner, alice):
    data, _ = export_bytes(owner)
    with pytest.raises(errors.Forbidden):
        export_bundle(mb.context("alice", app="cursor"), io.BytesIO())
    with pytest.raises(errors.Forbidden):
        import_bundle(mb.context("alice", app="cursor"), io.BytesIO(data))


# -- OpenMemory ---------------------------------------------------------------------------------
def openmemory_zip(jsonl: bool = False) -> tuple[bytes, dict]:
    """An export in OpenMemory's format (memories.json + memories.jsonl.gz)."""
    import gzip

    u, cursor, claude = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    health, work = str(uuid.uuid4()), str(uuid.uuid4())
    m1, m2, m3 = (str(uuid.uuid4()) for _ in range(3))
    doc = {
        "user": {"id": u, "user_id": "alice", "name": "Alice"},
        "apps": [
            {"id": cursor, "owner_id": u, "name": "cursor", "description": None, "metadata": {}, "is_active": True,
             "created_at": "2025-01-01T10:00:00", "updated_at": "2025-01-01T10:00:00"},
            {"id": claude, "owner_id": u, "name": "claude", "description": None, "metadata": {}, "is_active": False,
             "created_at": "2025-01-02T10:00:00", "updated_at": "2025-03-01T10:00:00"},
        ],
        "categories": [{"id": health, "name": "health", "description": ""}, {"id": work, "name": "work", "description": ""}],
        "memories": [
            {"id": m1, "user_id": u, "app_id": cursor, "content": "Takes insulin every morning", "metadata": {"k": "v"},
             "state": "active", "created_at": "2025-01-05T08:00:00", "updated_at": "2025-01-05T08:00:00",
             "archived_at": None, "deleted_at": None, "category_ids": [health]},
            {"id": m2, "user_id": u, "app_id": claude, "content": "Leads the payments team", "metadata": {},
             "state": "archived", "created_at": "2025-01-06T08:00:00", "updated_at": "2025-02-06T08:00:00",
             "archived_at": "2025-02-06T08:00:00", "deleted_at": None, "category_ids": [work]},
            {"id": m3, "user_id": u, "app_id": cursor, "content": "Owns a red bicycle", "metadata": {},
             "state": "paused", "created_at": "2025-01-07T08:00:00", "updated_at": "2025-01-08T08:00:00",
             "archived_at": None, "deleted_at": None, "category_ids": []},
        ],
        "memory_categories": [{"memory_id": m1, "category_id": health}, {"memory_id": m2, "category_id": work}],
        "status_history": [
            {"id": str(uuid.uuid4()), "memory_id": m2, "changed_by": u, "old_state": "active", "new_state": "archived",
             "changed_at": "2025-02-06T08:00:00"},
            {"id": str(uuid.uuid4()), "memory_id": m3, "changed_by": u, "old_state": "active", "new_state": "paused",
             "changed_at": "2025-01-08T08:00:00"},
        ],
        "access_controls": [
            {"id": str(uuid.uuid4()), "subject_type": "app", "subject_id": claude, "object_type": "memory", "object_id": m1,
             "effect": "deny", "created_at": "2025-01-09T08:00:00"},
            {"id": str(uuid.uuid4()), "subject_type": "app", "subject_id": cursor, "object_type": "app", "object_id": None,
             "effect": "allow", "created_at": "2025-01-09T08:00:00"},
            {"id": str(uuid.uuid4()), "subject_type": "user", "subject_id": u, "object_type": "memory", "object_id": m1,
             "effect": "allow", "created_at": "2025-01-09T08:00:00"},
        ],
        "export_meta": {"version": "1", "generated_at": "2025-03-01T00:00:00", "app_id_filter": None},
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        if not jsonl:
            zf.writestr("memories.json", json.dumps(doc, indent=2))
        lines = [
            {"id": m["id"], "content": m["content"], "metadata": m["metadata"], "created_at": m["created_at"],
             "updated_at": m["updated_at"], "state": m["state"], "app": "cursor" if m["app_id"] == cursor else "claude",
             "categories": ["health"] if m["id"] == m1 else (["work"] if m["id"] == m2 else [])}
            for m in doc["memories"]
        ]
        zf.writestr("memories.jsonl.gz", gzip.compress("\n".join(json.dumps(x) for x in lines).encode()))
    return out.getvalue(), {"m1": m1, "m2": m2, "m3": m3, "doc": doc}


def test_openmemory_import_keeps_apps_states_categories_and_rules(mb):
    data, ids = openmemory_zip()
    ctx = mb.context("alice")
    result = import_bundle(ctx, io.BytesIO(data))
    assert (result.format, result.added) == ("openmemory", 3)
    m1, m2, m3 = (ops.get(ctx, ids[k]) for k in ("m1", "m2", "m3"))
    assert (m1.app, m1.state, m1.categories, m1.metadata) == ("cursor", "active", ["health"], {"k": "v"})
    assert (m2.app, m2.state, m2.categories, m2.archived_at) == ("claude", "archived", ["work"], "2025-02-06T08:00:00.000000Z")
    assert (m3.state, m3.created_at) == ("paused", "2025-01-07T08:00:00.000000Z")
    apps = {a.name: a.paused for a in ops.list_apps(ctx)}
    assert apps == {"cursor": False, "claude": True}
    rules = {(r.app, r.effect, r.scope, r.target) for r in ops.list_rules(ctx)}
    assert rules == {("claude", "deny", "memory", ids["m1"]), ("cursor", "allow", "all", None)}
    assert [(h.event, h.old_state, h.new_state) for h in ops.history(ctx, ids["m2"])] == [("add", None, "active"), ("state", "active", "archived")]
    assert ops.search(ctx, "insulin")[0].id == ids["m1"]  # embedded with the current embedder
    assert import_bundle(ctx, io.BytesIO(data)).added == 0  # idempotent here too


def test_openmemory_jsonl_only(mb):
    data, ids = openmemory_zip(jsonl=True)
    ctx = mb.context("alice")
    assert import_bundle(ctx, io.BytesIO(data)).added == 3
    assert ops.get(ctx, ids["m3"]).state == "paused" and ops.get(ctx, ids["m1"]).categories == ["health"]


def test_openmemory_bad_state_is_refused(mb):
    data, ids = openmemory_zip()
    bad = rezip(data, lambda f: f.update({"memories.json": f["memories.json"].replace(b'"paused"', b'"snoozing"')}))
    with pytest.raises(errors.BundleInvalid):
        import_bundle(mb.context("alice"), io.BytesIO(bad))
    assert seq_of(mb.context("alice")) == 0


def test_another_process_replays_the_import_cold_and_from_a_checkpoint(tmp_path, mb, owner, alice):
    from tests.support.state import dump

    data, _ = export_bytes(owner)
    bob = mb.context("bob")
    import_bundle(bob, io.BytesIO(data))
    with bob.ns.read() as rep:
        warm = dump(rep)
    cold = make_mb(str(tmp_path / "bucket"), tmp_path / "cache-cold").context("bob")
    with cold.ns.read() as rep:
        assert dump(rep) == warm  # replayed from the log, parts fetched from the bucket
    bob.ns.compact(gc=False)
    fresh = make_mb(str(tmp_path / "bucket"), tmp_path / "cache-fresh").context("bob")
    with fresh.ns.read() as rep:
        assert dump(rep) == warm  # loaded from the checkpoint


def test_a_part_that_does_not_match_its_digest_stops_replay(tmp_path, mb, owner, alice):
    data, _ = export_bytes(owner)
    bob = mb.context("bob")
    import_bundle(bob, io.BytesIO(data))
    key = next(i.key for i in mb.store.list("ns/bob/blobs/"))
    body = mb.store.get(key).body
    mb.store.put(key, body[:-1] + bytes([body[-1] ^ 1]))
    cold = make_mb(str(tmp_path / "bucket"), tmp_path / "cache-cold").context("bob")
    with pytest.raises(ValueError):
        with cold.ns.read():
            pass


def test_gc_removes_parts_only_once_no_entry_names_them(mb, owner, alice):
    import time

    from membucket.engine.blobs import collect_blobs

    from tests.support.state import dump

    data, _ = export_bytes(owner)
    carol = mb.context("carol")
    import_bundle(carol, io.BytesIO(data))
    # carol's import entry is still in the log: its parts stay, however old
    assert collect_blobs(mb.store, carol.ns.keys, cutoff=time.time() + 60) == 0

    bob = mb.context("bob")
    import_bundle(bob, io.BytesIO(data))
    assert len(list(mb.store.list("ns/bob/blobs/"))) == 2  # one memory part, one history part
    mb.store.put("ns/bob/blobs/" + "0" * 64 + ".bin", b"x")  # an upload whose commit never happened
    bob.ns.retention_seconds = 0
    ops.add(bob, "after the import")
    first = bob.ns.compact()  # a checkpoint: the log since the previous one (none yet) stays
    assert first.gc.log_deleted == 0 and first.gc.blobs_deleted == 1  # only the orphan upload
    ops.add(bob, "after the first checkpoint")
    r = bob.ns.compact()  # GC with no retention: the import entry (below the previous checkpoint) goes, so do its parts
    assert r.gc.log_deleted >= 2 and r.gc.blobs_deleted == 2
    assert list(mb.store.list("ns/bob/blobs/")) == []
    cold = make_mb(mb.settings.store, Path(mb.settings.cache_dir) / "cold").context("bob")
    with cold.ns.read() as rep, bob.ns.read() as warm:  # the checkpoint needs no part
        assert dump(rep) == dump(warm)


def test_a_concurrent_write_between_decision_and_commit_is_decided_again(tmp_path, mb, owner, alice, monkeypatch):
    """Replace mode: while the parts upload, another process edits a memory the import had found
    equal. The commit sees that its parts do not cover it, decides again, and still ends equal."""
    from membucket.ops import importer

    data, _ = export_bytes(owner)
    bob = mb.context("bob")
    import_bundle(bob, io.BytesIO(data))
    other = make_mb(str(tmp_path / "bucket"), tmp_path / "cache-other").context("bob")  # another process
    ops.update(other, alice["a"], text="edited elsewhere, before the replace")
    real_upload, calls = importer._upload, []

    def upload(ctx, bundle, ids, embed, progress):
        calls.append(set(ids))
        if len(calls) == 1:
            ops.update(other, alice["d"], text="edited elsewhere, during the replace")
        return real_upload(ctx, bundle, ids, embed, progress)

    monkeypatch.setattr(importer, "_upload", upload)
    result = import_bundle(bob, io.BytesIO(data), mode="replace")
    assert calls == [{alice["a"]}, {alice["a"], alice["d"]}]
    assert result.updated == 2
    assert snapshot(bob) | {"index": []} == snapshot(owner) | {"index": []}
