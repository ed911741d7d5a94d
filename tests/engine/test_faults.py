"""Store faults at ~10%: every acknowledged write is present exactly once, nothing half-visible."""

from __future__ import annotations

import json
import uuid

import pytest
from membucket import errors, ops
from membucket.engine.checkpoint import read_pointer
from membucket.store import open_store

from tests.support.factories import make_mb
from tests.support.faulty_store import FaultyStore
from tests.support.state import dump


def _faulty_mb(url, cache, seed, **kw):
    inner = open_store(url)
    faulty = FaultyStore(inner, rate=0.1, seed=seed)
    return make_mb(url, cache, store=faulty, **kw), faulty


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", [1, 2])
def test_acknowledged_writes_survive_faults(tmp_path, seed):
    url = str(tmp_path / "bucket")
    mb, faulty = _faulty_mb(url, tmp_path / "cache", seed, commit_attempts=60, compact_after=40, retention_seconds=0)
    ctx = mb.context("alice", app="cursor")
    acked: dict[str, str] = {}  # token -> id
    states: dict[str, str] = {}
    failures = 0
    for i in range(300):
        token = uuid.uuid4().hex
        try:
            if i % 5 == 4 and acked:
                mid = list(acked.values())[i % len(acked)]
                target = "paused" if states.get(mid, "active") == "active" else "active"
                ops.change_state(ctx, [mid], target)
                states[mid] = target
            else:
                ev = ops.add(ctx, f"memory {i} token {token}").events[0]
                assert ev.event == "ADD"
                acked[token] = ev.id
        except (errors.ServiceUnavailable, errors.StoreUnavailable):
            failures += 1
    assert sum(faulty.injected.values()) > 50, faulty.injected
    # A clean reader (no faults) replays the log from scratch.
    reader = make_mb(url, tmp_path / "clean")
    owner = reader.context("alice")
    with reader.namespace("alice").read() as rep:
        rows = rep.con.execute("SELECT id, text, state FROM memories").fetchall()
        clean = dump(rep)
    by_id = {r[0]: r for r in rows}
    for token, mid in acked.items():
        assert mid in by_id and token in by_id[mid][1]
    texts = [r[1] for r in rows]
    assert len(texts) == len(set(texts)), "an ambiguous commit was written twice"
    for mid, st in states.items():
        assert by_id[mid][2] == st
    # the faulty writer's own replica agrees with the clean one
    faulty.rate = 0
    with mb.namespace("alice").read() as rep:
        assert dump(rep) == clean
    assert ops.list_memories(owner).total == len(rows)


def test_writer_killed_between_checkpoint_upload_and_pointer_move(tmp_path):
    url = str(tmp_path / "bucket")
    mb = make_mb(url, tmp_path / "c1", retention_seconds=0)
    ctx = mb.context("alice")
    for i in range(10):
        ops.add(ctx, f"before the crash {i} {uuid.uuid4().hex}")
    mb.compact("alice")
    first = read_pointer(mb.store, mb.namespace("alice").keys)
    for i in range(5):
        ops.add(ctx, f"after the first checkpoint {i} {uuid.uuid4().hex}")

    class Killed(BaseException):
        pass

    real_put = mb.store.put

    def dying_put(key, body, condition=None):
        if key.endswith("/CHECKPOINT"):
            raise Killed()  # the process dies here: objects uploaded, pointer not moved
        return real_put(key, body, condition)

    mb.store.put = dying_put
    with pytest.raises(Killed):
        mb.compact("alice")
    mb.store.put = real_put
    assert read_pointer(mb.store, mb.namespace("alice").keys) == first
    reader = make_mb(url, tmp_path / "c2")
    assert ops.list_memories(reader.context("alice")).total == 15
    r = make_mb(url, tmp_path / "c3", retention_seconds=0).compact("alice")
    assert r.published and r.seq == 15
    dirs = {i.key.split("/")[3] for i in mb.store.list("ns/alice/checkpoints/")}
    assert dirs == {first.dir.split("/")[3], read_pointer(mb.store, mb.namespace("alice").keys).dir.split("/")[3]}, dirs
    # the orphan was collected; the previous checkpoint is kept (the current shares its segments)
    keys = mb.namespace("alice").keys
    named = {s["sha256"] for d in dirs for t in json.loads(mb.store.get(f"{keys.checkpoints_prefix}{d}/manifest.json").body)["tables"].values() for s in t}
    assert {keys.segment_sha256(i.key) for i in mb.store.list(keys.segments_prefix)} == named  # the orphan's own segments too
    assert ops.list_memories(make_mb(url, tmp_path / "c4").context("alice")).total == 15
