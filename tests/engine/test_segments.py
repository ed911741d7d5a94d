"""Format-2 checkpoints: segments + manifest, incremental, upgrade from format 1, refusal, GC safety."""

from __future__ import annotations

import json
import random
import threading
import time

import numpy as np
import pytest
from membucket import errors, ops
from membucket.backup import restore, take_backup, verify_backup
from membucket.backup.manifest import ObjectsView
from membucket.engine import segments
from membucket.engine.checkpoint import CheckpointMeta, collect_garbage, publish_checkpoint, read_manifest, read_pointer
from membucket.engine.keys import NamespaceKeys
from membucket.engine.replica import Replica
from membucket.store import open_store

from tests.support.factories import make_mb

KEYS = NamespaceKeys("alice")
NEWER = segments.FORMAT + 1
QUERIES = ["colour 3", "rewritten entirely", "item number 12", "garden tomatoes"]


def full_dump(rep) -> dict:
    """Every table, sorted, plus the counters and what the two indexes answer."""
    con = rep.con
    out: dict = {"kv": (rep.seq, rep.embedder, rep.dim, rep.next_vid, rep.access_after)}
    for table in segments.TABLES:
        out[table] = sorted(map(repr, con.execute(f"SELECT * FROM {table}").fetchall()))
    out["index"] = sorted(rep.index.ids().tolist()) if rep.index is not None else []
    if rep.index is not None and rep.index.size:  # the index holds exactly the record's vectors
        vids, vectors = rep.vectors("state = 'active'")
        assert np.array_equal(rep.index.index.reconstruct_batch(vids), vectors)
    lex = rep.lexical_index()
    out["lexical"] = [(q, [(round(float(s), 4), int(v)) for s, v in zip(*lex.search(q, 5), strict=True)]) for q in QUERIES]
    if rep.index is not None and rep.index.size:
        q = np.ones(rep.dim, dtype=np.float32) / np.sqrt(rep.dim)
        scores, vids = rep.index.search(q, 5)
        out["dense"] = [(round(float(s), 4), int(v)) for s, v in zip(scores, vids, strict=True)]
    return out


def replayed(store, tmp_path, name: str) -> dict:
    """A replica built by replaying the whole log (no checkpoint)."""
    rep = Replica(store, KEYS, tmp_path / name)
    rep.mark_loaded()
    rep.sync()
    return full_dump(rep)


def from_checkpoint(url, tmp_path, name: str) -> dict:
    mb = make_mb(url, tmp_path / name)
    with mb.namespace("alice").read() as rep:
        return full_dump(rep)


def random_step(rng: random.Random, ctx, owner, ids: list[str], i: int) -> None:
    roll = rng.random()
    if roll < 0.5 or len(ids) < 5:
        ids.append(ops.add(ctx, f"fact {i}: the item number {i} is colour {i % 7} {rng.random()}").events[0].id)
    elif roll < 0.62:
        ops.update(owner, rng.choice(ids), text=f"fact {i} was rewritten entirely {rng.random()}")
    elif roll < 0.75:
        try:
            ops.change_state(owner, [rng.choice(ids)], rng.choice(["paused", "archived", "active"]))
        except errors.IllegalTransition:
            pass
    elif roll < 0.82:
        gone = rng.choice(ids)
        ops.change_state(owner, [gone], "deleted")
        ids.remove(gone)
    elif roll < 0.88:
        ops.add_rule(owner, "cursor", rng.choice(["allow", "deny"]), "memory", rng.choice(ids))
    elif roll < 0.94:
        ops.set_app_paused(owner, "claude", rng.random() < 0.5)
    else:
        ops.add_batch(ctx, [ops.NewMemory(text=f"batch {i} {k} garden tomatoes") for k in range(3)])


@pytest.mark.parametrize("parts", [False, True], ids=["whole", "parts"])
@pytest.mark.parametrize("seed", [1, 2])
def test_checkpoint_plus_tail_equals_full_replay_at_random_cut_points(tmp_path, monkeypatch, seed, parts):
    # tiny tiers, so deltas merge (with tombstones kept, then dropped at the base) within the test
    monkeypatch.setattr(segments, "UNIT_BYTES", 2048)
    monkeypatch.setattr(segments, "TIER", 2)
    if parts:  # segments over 5 KB are stored as parts
        monkeypatch.setattr(segments, "PART_BYTES", 5000)
    url = str(tmp_path / "bucket")
    mb = make_mb(url, tmp_path / "w", compact_after=0)
    ctx, owner = mb.context("alice", app="cursor"), mb.context("alice")
    rng = random.Random(seed)
    ids: list[str] = []
    cuts = sorted(rng.sample(range(5, 90), 6))
    for i in range(95):
        random_step(rng, ctx, owner, ids, i)
        if i in cuts:
            assert mb.compact("alice", gc=False).published
            want = replayed(mb.store, tmp_path, f"replay-{i}")
            assert from_checkpoint(url, tmp_path, f"ckpt-{i}") == want
    want = replayed(mb.store, tmp_path, "replay-end")
    got = from_checkpoint(url, tmp_path, "ckpt-end")  # the last checkpoint plus a tail
    assert got == want and got["kv"][0] > read_pointer(mb.store, KEYS).seq
    manifest = read_manifest(mb.store, read_pointer(mb.store, KEYS).dir)
    assert manifest.format == segments.FORMAT and len(manifest.tables["memories"]) <= segments.MAX_SEGMENTS
    assert any(s.parts for s in manifest.segments()) == parts
    assert not list(mb.store.list(KEYS.checkpoints_prefix + "x"))  # nothing but manifests
    assert all(i.key.endswith("manifest.json") for i in mb.store.list(KEYS.checkpoints_prefix))


def _format1_checkpoint(mb, user: str = "alice") -> None:
    """Today's (format-1) publish path: a DuckDB file + a FAISS file + meta.json."""
    import hashlib

    ns = mb.namespace(user)
    with ns.read() as rep:
        ns.cache_dir.mkdir(parents=True, exist_ok=True)
        db_file = ns.cache_dir / "f1.duckdb"
        index_bytes = rep.snapshot(db_file)
        counts = rep.con.execute("SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM memories").fetchone()
        meta = CheckpointMeta(
            seq=rep.seq, embedder=rep.embedder, dim=rep.dim, memories=counts[0], active=counts[1],
            db_sha256=hashlib.sha256(db_file.read_bytes()).hexdigest(), db_size=db_file.stat().st_size,
            index_sha256=hashlib.sha256(index_bytes).hexdigest(), index_size=len(index_bytes), created_at=time.time(),
        )
    assert publish_checkpoint(mb.store, ns.keys, meta, db_file, index_bytes) is not None
    db_file.unlink()


def test_a_format1_store_loads_and_upgrades_on_first_compaction(tmp_path):
    url = str(tmp_path / "bucket")
    mb = make_mb(url, tmp_path / "w", compact_after=0, retention_seconds=0)
    ctx = mb.context("alice", app="cursor")
    ids = [ops.add(ctx, f"old format memory {i} colour {i % 3}").events[0].id for i in range(12)]
    ops.change_state(ctx, ids[:2], "archived")
    _format1_checkpoint(mb)
    old = read_pointer(mb.store, KEYS)
    assert "format" not in json.loads(mb.store.get(KEYS.pointer).body)
    assert {i.key.rsplit("/", 1)[1] for i in mb.store.list(old.dir)} == {"db.duckdb", "index.faiss", "meta.json"}
    ops.add(ctx, "one more after the format-1 checkpoint")
    assert from_checkpoint(url, tmp_path, "r1") == replayed(mb.store, tmp_path, "p1")  # format 1 still loads

    r = make_mb(url, tmp_path / "w2", compact_after=0, retention_seconds=0).compact("alice")  # the upgrade
    assert r.published
    new = read_pointer(mb.store, KEYS)
    assert new.format == segments.FORMAT and json.loads(mb.store.get(KEYS.pointer).body)["format"] == segments.FORMAT
    assert from_checkpoint(url, tmp_path, "r2") == replayed(mb.store, tmp_path, "p2")
    ops.add(ctx, "and another")
    make_mb(url, tmp_path / "w3", compact_after=0, retention_seconds=0).compact("alice")
    # the format-1 checkpoint is two checkpoints back now: collected
    assert not list(mb.store.list(old.dir))
    assert from_checkpoint(url, tmp_path, "r3") == replayed(mb.store, tmp_path, "p3")


def _listing(store) -> dict:
    return {i.key: (i.etag, i.size) for i in store.list("")}


def test_a_format2_store_loads_and_its_segments_are_reused_by_format3(tmp_path, monkeypatch):
    """Format 2 is format 3 without segment parts: it loads as is, and the next checkpoint (format 3,
    splitting what is now big) keeps naming the format-2 segments that did not change."""
    url = str(tmp_path / "bucket")
    mb = make_mb(url, tmp_path / "w", compact_after=0, retention_seconds=0)
    ctx = mb.context("alice")
    for i in range(30):
        ops.add(ctx, f"format two memory {i} about colour {i % 5}")
    mb.compact("alice", gc=False)
    p = read_pointer(mb.store, KEYS)
    doc = json.loads(mb.store.get(p.dir + "manifest.json").body)
    assert all("parts" not in s for segs in doc["tables"].values() for s in segs)
    mb.store.put(p.dir + "manifest.json", json.dumps(doc | {"format": 2}).encode())  # as a format-2 writer left it
    mb.store.put(KEYS.pointer, json.dumps({"seq": p.seq, "dir": p.dir, "format": 2}).encode())
    old = set(read_manifest(mb.store, p.dir).objects())
    ops.add(ctx, "one more after the format-2 checkpoint")
    assert from_checkpoint(url, tmp_path, "r1") == replayed(mb.store, tmp_path, "p1")

    monkeypatch.setattr(segments, "PART_BYTES", 4000)  # what is over 4 KB is stored as parts from now on
    assert make_mb(url, tmp_path / "w2", compact_after=0, retention_seconds=0).compact("alice", gc=False).published
    new = read_manifest(mb.store, read_pointer(mb.store, KEYS).dir)
    assert new.format == segments.FORMAT == 3 and read_pointer(mb.store, KEYS).format == 3
    assert old & set(new.objects()), "unchanged format-2 segments are named again, not rewritten"
    assert from_checkpoint(url, tmp_path, "r2") == replayed(mb.store, tmp_path, "p2")


@pytest.mark.parametrize("where", ["pointer", "manifest"])
def test_a_newer_format_is_refused_and_nothing_is_written(tmp_path, where):
    url = str(tmp_path / "bucket")
    mb = make_mb(url, tmp_path / "w", compact_after=0)
    ctx = mb.context("alice")
    ops.add(ctx, "written by this version")
    mb.compact("alice", gc=False)
    p = read_pointer(mb.store, KEYS)
    if where == "pointer":
        mb.store.put(KEYS.pointer, json.dumps({"seq": p.seq, "dir": p.dir, "format": NEWER}).encode())
    else:
        doc = json.loads(mb.store.get(p.dir + "manifest.json").body) | {"format": NEWER}
        mb.store.put(KEYS.pointer, json.dumps({"seq": p.seq, "dir": p.dir}).encode())
        mb.store.put(p.dir + "manifest.json", json.dumps(doc).encode())
    before = _listing(mb.store)
    fresh = make_mb(url, tmp_path / "fresh", compact_after=1)
    with pytest.raises(errors.StoreFormatTooNew) as info:
        ops.add(fresh.context("alice"), "must not be written")
    assert info.value.code == "store_format_too_new" and f"format {NEWER}" in info.value.message
    with pytest.raises(errors.StoreFormatTooNew):
        ops.search(fresh.context("alice"), "anything")
    with pytest.raises(errors.StoreFormatTooNew):
        fresh.compact("alice")
    if where == "pointer":  # the warm writer meets it at its next pointer read
        with pytest.raises(errors.StoreFormatTooNew):
            mb.compact("alice")
    assert _listing(mb.store) == before


def test_gc_never_deletes_a_segment_a_live_manifest_or_a_retained_backup_names(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "UNIT_BYTES", 2048)
    monkeypatch.setattr(segments, "TIER", 2)
    url = str(tmp_path / "bucket")
    mb = make_mb(url, tmp_path / "w", compact_after=0, retention_seconds=0)
    ctx = mb.context("alice")
    ids = [ops.add(ctx, f"backed up memory {i}").events[0].id for i in range(10)]
    mb.compact("alice")
    target = open_store(str(tmp_path / "backup"))
    first = take_backup(mb.store, target)
    at_backup = replayed(mb.store, tmp_path, "at-backup")
    backed = {k for k in ObjectsView(target).root.list("objects/ns/alice/segments/")}
    assert backed
    for round_ in range(6):  # deletes, updates and merges: the backed-up segments leave the live store
        ops.change_state(ctx, [ids[round_]], "deleted")
        ops.update(ctx, ids[9 - round_ // 2], text=f"changed in round {round_}")
        ops.add(ctx, f"new in round {round_}")
        mb.compact("alice")
        if round_ == 0:  # incremental: a backup after a small change copies only the new segments
            second = take_backup(mb.store, target)
            assert second.skipped > 0 and second.bytes_copied < first.bytes_copied
    gc = collect_garbage(mb.store, KEYS, 0, now=time.time() + 10)
    pointer = read_pointer(mb.store, KEYS)
    live = {i.key for i in mb.store.list(KEYS.segments_prefix)}
    for d in {i.key.rsplit("/", 1)[0] + "/" for i in mb.store.list(KEYS.checkpoints_prefix)}:
        for sha in read_manifest(mb.store, d).objects():
            assert KEYS.segment(sha) in live  # every kept manifest is whole
    assert len({i.key.split("/")[3] for i in mb.store.list(KEYS.checkpoints_prefix)}) == 2
    assert gc.segments_deleted >= 0 and pointer.format == segments.FORMAT
    gone = [k for k in backed if k.key[len("objects/"):] not in live]
    assert gone, "the test must collect segments the first backup holds"
    # the first backup still restores and verifies: the target keeps its own copies
    assert verify_backup(target, backup_id=first.id, cache_dir=tmp_path / "v").ok
    fresh = open_store(str(tmp_path / "restored"))
    restore(fresh, target, cache_dir=tmp_path / "rc", backup_id=first.id)
    assert replayed_from(fresh, tmp_path) == at_backup


def replayed_from(store, tmp_path) -> dict:
    rep = Replica(store, KEYS, tmp_path / "restored-cache")
    rep.sync()
    return full_dump(rep)


class CountingStore:
    """Counts the bytes PUT through it."""

    def __init__(self, inner) -> None:
        self.inner, self.put_bytes, self.url = inner, 0, inner.url

    def put(self, key, body, condition=None):
        self.put_bytes += len(body)
        return self.inner.put(key, body, condition)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_checkpoint_after_n_adds_writes_o_of_n_bytes(tmp_path):
    url = str(tmp_path / "bucket")
    store = CountingStore(open_store(url))
    mb = make_mb(url, tmp_path / "w", store=store, compact_after=0, max_batch=1000)
    ctx = mb.context("alice")
    for start in range(0, 3000, 1000):
        ops.add_batch(ctx, [ops.NewMemory(text=f"base memory {i} about topic {i % 50}") for i in range(start, start + 1000)])
    mb.compact("alice", gc=False)
    base_bytes = read_manifest(mb.store, read_pointer(mb.store, KEYS).dir).data_bytes
    written = []
    for n in (10, 40):
        for i in range(n):
            ops.add(ctx, f"single add {n}-{i}")
        store.put_bytes = 0
        assert mb.compact("alice", gc=False).published
        written.append(store.put_bytes)
    per_row = base_bytes / 3000
    assert written[0] < 10 * per_row * 4 + 20_000, written  # ~10 rows (+ history), a manifest, a pointer
    assert written[1] < 40 * per_row * 4 + 20_000, written
    assert max(written) < base_bytes / 10, (written, base_bytes)


def test_a_format1_backup_still_restores_and_verifies(tmp_path):
    """A backup taken while the store held a format-1 checkpoint (today's), restored by this version."""
    url = str(tmp_path / "bucket")
    mb = make_mb(url, tmp_path / "w", compact_after=0)
    ctx = mb.context("alice", app="cursor")
    for i in range(8):
        ops.add(ctx, f"format one memory {i} colour {i % 3}")
    _format1_checkpoint(mb)
    ops.add(ctx, "a tail entry after it")
    target = open_store(str(tmp_path / "backup"))
    report = take_backup(mb.store, target)
    rec = json.loads(target.get(f"backups/{report.id}/manifest.json").body)["namespaces"]["alice"]
    assert [c.get("format", 1) for c in rec["checkpoints"]] == [1]
    want = replayed(mb.store, tmp_path, "want")
    assert verify_backup(target, cache_dir=tmp_path / "v").ok
    fresh = open_store(str(tmp_path / "restored"))
    restore(fresh, target, cache_dir=tmp_path / "rc")
    assert replayed_from(fresh, tmp_path) == want
    # and a forced restore over a live namespace writes a format-2 checkpoint for the restored state
    restore(mb.store, target, cache_dir=tmp_path / "rc2", force=True)
    assert read_pointer(mb.store, KEYS).format == segments.FORMAT
    assert from_checkpoint(url, tmp_path, "after-force")["memories"] == want["memories"]


def test_tier_merges_run_outside_the_replica_lock(tmp_path, monkeypatch):
    """A checkpoint diffs under the replica's lock; merging tiers (seconds at 100k) does not hold it."""
    from membucket.engine import incremental

    monkeypatch.setattr(segments, "UNIT_BYTES", 2048)
    monkeypatch.setattr(segments, "TIER", 2)
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "w", compact_after=0)
    ctx = mb.context("alice")
    ns = mb.namespace("alice")
    free: list[bool] = []
    merged = incremental.merge_tiers

    def spy(built):
        def try_lock():  # another thread: a request arriving while the merge runs
            got = ns.replica.lock.acquire(blocking=False)
            if got:
                ns.replica.lock.release()
            free.append(got)

        t = threading.Thread(target=try_lock)
        t.start()
        t.join()
        merged(built)

    monkeypatch.setattr(incremental, "merge_tiers", spy)
    for i in range(6):
        ops.add(ctx, f"memory {i} for the merge test, about topic {i}")
        assert mb.compact("alice", gc=False).published
    assert len(free) == 6 and all(free)
    manifest = read_manifest(mb.store, read_pointer(mb.store, KEYS).dir)
    assert len(manifest.tables["memories"]) < 6  # the tiers did merge
