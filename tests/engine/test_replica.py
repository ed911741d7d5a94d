"""Replicas: cold replay equals warm state, checkpoints, GC gaps, index checks."""

import json

import pytest
from membucket import ops
from membucket.engine.checkpoint import read_pointer
from membucket.engine.segments import FORMAT
from membucket.store import LocalStore, MemoryStore

from tests.support.factories import make_mb
from tests.support.state import dump


@pytest.fixture
def bucket(tmp_path):
    return str(tmp_path / "bucket")


def fill(ctx, n=20):
    ids = [ops.add(ctx, f"fact {i}: the item number {i} is colour {i % 5}").events[0].id for i in range(n)]
    ops.change_state(ctx, ids[:3], "paused")
    ops.change_state(ctx, ids[3:5], "deleted")
    ops.update(ctx, ids[6], text="fact six was rewritten entirely")
    owner = ops.Context(ns=ctx.ns, embedder=ctx.embedder, settings=ctx.settings)  # rules and pauses are the owner's
    ops.add_rule(owner, "cursor", "deny", "memory", ids[7])
    ops.set_app_paused(owner, "claude", True)
    return ids


def state_of(mb, user="alice"):
    ns = mb.namespace(user)
    with ns.read() as rep:
        return dump(rep)


def test_cold_replay_equals_warm_state(bucket, tmp_path):
    writer = make_mb(bucket, tmp_path / "c1")
    fill(writer.context("alice", app="cursor"))
    warm = state_of(writer)
    cold = state_of(make_mb(bucket, tmp_path / "c2"))
    assert cold == warm and warm["seq"] > 20


def test_checkpoint_then_tail_equals_full_replay(bucket, tmp_path):
    writer = make_mb(bucket, tmp_path / "c1")
    ctx = writer.context("alice", app="cursor")
    fill(ctx)
    res = writer.compact("alice", gc=False)
    assert res.published
    more = [ops.add(ctx, f"after the checkpoint {i}").events[0].id for i in range(5)]
    ops.change_state(ctx, more[:1], "archived")
    from_ckpt = make_mb(bucket, tmp_path / "c2")
    ns = from_ckpt.namespace("alice")
    with ns.read() as rep:
        assert rep.checkpoint_seq == res.seq
        got = dump(rep)
    assert got == state_of(writer)


def test_gc_gap_reloads_from_checkpoint(bucket, tmp_path):
    writer = make_mb(bucket, tmp_path / "c1", retention_seconds=0)
    reader = make_mb(bucket, tmp_path / "c2")
    ctx = writer.context("alice")
    ops.add(ctx, "first memory")
    assert len(ops.list_memories(reader.context("alice")).items) == 1  # reader warm at an early seq
    for i in range(10):
        ops.add(ctx, f"memory number {i} with words {i}")
    first = writer.compact("alice")
    assert first.gc.log_deleted == 0  # the log since the previous checkpoint (none yet) is kept
    for i in range(3):
        ops.add(ctx, f"second batch {i}")
    r = writer.compact("alice")
    assert r.gc.log_deleted == first.seq  # every entry up to the previous checkpoint is gone
    ops.add(ctx, "after gc")
    assert state_of(reader) == state_of(writer)
    assert ops.list_memories(reader.context("alice")).total == 15


@pytest.mark.parametrize("backend", ["directory", "memory"])
def test_a_writer_behind_a_gc_gap_reloads_then_commits(backend, tmp_path):
    """The writer's sync: probes then CHECKPOINT (directory store), or one LIST whose first key is
    past seq+1 (memory store, as S3). Either way it reloads and commits at the real head."""
    store = MemoryStore() if backend == "memory" else LocalStore(tmp_path / "bucket")
    writer = make_mb(store.url, tmp_path / "c1", store=store, retention_seconds=0)
    late = make_mb(store.url, tmp_path / "c2", store=store)
    ctx = writer.context("alice")
    ops.add(ctx, "first memory")
    ops.add(late.context("alice"), "late writer's first")  # warm at seq 2
    for i in range(10):
        ops.add(ctx, f"memory number {i} with words {i}")
    writer.compact("alice")
    for i in range(3):
        ops.add(ctx, f"second batch {i}")
    assert writer.compact("alice").gc.log_deleted >= 3  # log/3 (late's next number) is gone
    ops.add(late.context("alice"), "written after the gap")
    with late.namespace("alice").read() as rep:
        assert rep.seq == 16
    assert state_of(late) == state_of(writer)
    assert ops.list_memories(writer.context("alice")).total == 16


def test_index_disagreeing_with_duckdb_is_rebuilt(bucket, tmp_path):
    writer = make_mb(bucket, tmp_path / "c1")
    ctx = writer.context("alice")
    ids = [ops.add(ctx, f"thing {i} and more {i}").events[0].id for i in range(5)]
    ns = writer.namespace("alice")
    with ns.read() as rep:
        rep.index.remove([1, 2])  # corrupt the derived index before it is checkpointed
    writer.compact("alice")
    reader = make_mb(bucket, tmp_path / "c2")
    with reader.namespace("alice").read() as rep:
        assert rep.index.size == 5
    assert {h.id for h in ops.search(reader.context("alice"), "thing", limit=10)} == set(ids)


def test_corrupt_checkpoint_file_is_detected(bucket, tmp_path):
    writer = make_mb(bucket, tmp_path / "c1")
    ops.add(writer.context("alice"), "something to keep")
    writer.compact("alice", gc=False)
    keys = writer.namespace("alice").keys
    seg = next(i.key for i in writer.store.list(keys.segments_prefix))
    writer.store.put(seg, b"garbage")
    reader = make_mb(bucket, tmp_path / "c2")
    with pytest.raises(RuntimeError):
        reader.namespace("alice").replica.sync()


def test_compaction_is_automatic_past_the_threshold(bucket, tmp_path):
    writer = make_mb(bucket, tmp_path / "c1", compact_after=5)
    ctx = writer.context("alice")
    for i in range(12):
        ops.add(ctx, f"auto compaction {i} words {i * 3}")
    p = read_pointer(writer.store, writer.namespace("alice").keys)
    assert p is not None and p.seq >= 10
    meta = json.loads(writer.store.get(p.dir + "manifest.json").body)
    assert meta["embedder"] == "test/hash-64" and meta["dim"] == 64 and meta["seq"] == p.seq and meta["format"] == FORMAT


def test_a_pointer_naming_another_users_checkpoint_never_loads_it(tmp_path):
    """CHECKPOINT written by hand to point at bob's checkpoint: alice's replica refuses it."""
    import json as _json

    from membucket import ops
    from membucket.engine.keys import NamespaceKeys

    from tests.support.factories import make_mb

    mb = make_mb(str(tmp_path / "b"), tmp_path / "c")
    ops.add(mb.context("bob"), "Bob's private diary entry")
    mb.compact("bob", gc=False)
    ops.add(mb.context("alice"), "Alice's own memory")
    bob_pointer = _json.loads(mb.store.get(NamespaceKeys("bob").pointer).body)
    mb.store.put(NamespaceKeys("alice").pointer, _json.dumps({"seq": 1, "dir": bob_pointer["dir"]}).encode())
    fresh = make_mb(str(tmp_path / "b"), tmp_path / "c2")
    with pytest.raises(Exception) as info:
        ops.list_memories(fresh.context("alice"))
    assert "diary" not in str(info.value)
