"""One checkpoint per generation: a writer whose replica has not seen a newer checkpoint must not
write another one a few entries later (issue 12's 2000/2001 pairs; `membucket bench engine-load`
saw 53, 55, 57, 60, 63 with two servers and a threshold of 50)."""

from __future__ import annotations

import threading

from membucket import ops
from membucket.store import open_store

from tests.support.factories import make_mb


def _checkpoint_seqs(url: str) -> list[int]:
    dirs = {i.key.split("/")[3] for i in open_store(url).list("ns/alice/checkpoints/")}
    return sorted(int(d.split("-")[0]) for d in dirs)


def test_a_stale_replica_does_not_checkpoint_the_next_generation_again(tmp_path):
    url = str(tmp_path / "bucket")
    a = make_mb(url, tmp_path / "a", compact_after=5)
    b = make_mb(url, tmp_path / "b", compact_after=5)
    ops.add(b.context("alice"), "b's replica is loaded before any checkpoint")
    for i in range(4):
        ops.add(a.context("alice"), f"memory {i}")  # seq 5: a crosses the threshold and checkpoints
    assert _checkpoint_seqs(url) == [5]
    ops.add(b.context("alice"), "one more")  # seq 6: b's replica still counts from 0
    ops.add(b.context("alice"), "and another")
    assert _checkpoint_seqs(url) == [5]
    assert b.namespace("alice").replica.checkpoint_seq == 5  # b learnt of the newer checkpoint
    for i in range(4):
        ops.add(b.context("alice"), f"later {i}")  # seq 11: the next generation, once
    assert _checkpoint_seqs(url) == [5, 10]


def test_a_claim_won_after_the_generation_was_published_writes_nothing(tmp_path, monkeypatch):
    """The claim on the old base is free again once its holder published and GC collected the
    claim; the writer that read the pointer before that must not upload that generation again."""
    from membucket.engine import namespace as namespace_module

    url = str(tmp_path / "bucket")
    a = make_mb(url, tmp_path / "a", compact_after=0)
    b = make_mb(url, tmp_path / "b", compact_after=0)
    for i in range(6):
        ops.add(a.context("alice"), f"memory {i}")
    ops.list_memories(b.context("alice"))  # b's replica at seq 6, no checkpoint yet
    real_claim = namespace_module.claim_compaction

    def claim_after_a_published(store, keys, base, seq):
        assert a.namespace("alice").compact(gc=True).published  # a writes generation 6, GC drops claims
        return real_claim(store, keys, base, seq)

    monkeypatch.setattr(namespace_module, "claim_compaction", claim_after_a_published)
    assert not b.namespace("alice").compact(gc=False, claim=True).published
    assert _checkpoint_seqs(url) == [6]


def test_a_compaction_decided_before_waiting_for_the_replica_rechecks_the_threshold(tmp_path):
    """Two requests on one replica cross the threshold together: one checkpoints while the other
    waits for the lock. The waiting one decided before the replica knew of that checkpoint; under
    the lock it must count from it, not write the next generation a few entries later (engine-load
    with two servers saw 494/500: the second request's decision dated from seq 493)."""
    url = str(tmp_path / "bucket")
    a = make_mb(url, tmp_path / "a", compact_after=5)
    ctx = a.context("alice")
    ns = ctx.ns
    for i in range(4):
        ops.add(ctx, f"memory {i}")
    decided = threading.Event()
    real_due = ns.due

    def due() -> bool:
        answer = real_due()
        decided.set()
        return answer

    with ns.replica.lock:
        ns.compact_after = 0  # this request's commit (seq 5) must not compact by itself ...
        ops.add(ctx, "memory 4")
        ns.compact_after = 5
        ns.due = due  # type: ignore[method-assign]
        waiting = threading.Thread(target=ns._maybe_compact)  # ... the other request's did: due at seq 5
        waiting.start()
        assert decided.wait(10)
        assert ns.compact(gc=False, claim=True).published  # this request checkpoints seq 5 first
        ops.add(ctx, "one more")  # seq 6, while the other request still waits for the lock
    waiting.join(10)
    assert _checkpoint_seqs(url) == [5]
