"""Several writers past the compaction threshold upload one checkpoint; lock waits have a deadline."""

from __future__ import annotations

import threading
import time

import pytest
from membucket import errors, ops
from membucket.engine.claims import STALE_SECONDS, claim_compaction
from membucket.engine.keys import NamespaceKeys
from membucket.store import MemoryStore, open_store

from tests.support.factories import make_mb


def test_one_writer_checkpoints_a_given_pointer(tmp_path):
    url = str(tmp_path / "bucket")
    a = make_mb(url, tmp_path / "a", compact_after=0)
    b = make_mb(url, tmp_path / "b", compact_after=0)
    for i in range(6):
        ops.add(a.context("alice"), f"memory {i}")
    keys = NamespaceKeys("alice")
    assert claim_compaction(a.store, keys, 0, 6)  # a is uploading the first checkpoint
    ops.add(b.context("alice"), "one more")  # b crosses the threshold one entry later
    assert not b.namespace("alice").compact(gc=False, claim=True).published
    assert not list(open_store(url).list("ns/alice/checkpoints/"))
    # an explicit compact never waits for a claim; the next generation is claimed afresh
    assert a.namespace("alice").compact(gc=False).published
    ops.add(b.context("alice"), "and another")
    assert b.namespace("alice").compact(gc=True, claim=True).published
    names = [i.key.rsplit("/", 1)[1] for i in open_store(url).list("ns/alice/compaction/")]
    assert names == []  # claims on checkpoints below the pointer are collected


def test_a_stale_claim_is_taken_over_once():
    store, keys = MemoryStore(), NamespaceKeys("alice")
    assert claim_compaction(store, keys, 0, 5)
    assert not claim_compaction(store, keys, 0, 6)
    later = time.time() + STALE_SECONDS + 1
    assert claim_compaction(store, keys, 0, 7, now=later)
    assert not claim_compaction(store, keys, 0, 8)  # the takeover refreshed the claim


def test_waiting_for_the_replica_counts_against_the_commit_deadline(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "c", commit_timeout_seconds=0.3)
    ctx = mb.context("alice")
    ops.add(ctx, "warm")
    lock = mb.namespace("alice").replica.lock
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait()
    try:
        with pytest.raises(errors.ServiceUnavailable):
            ops.add(ctx, "queued behind a stalled holder")
    finally:
        release.set()
        t.join()
    assert ops.add(ctx, "after the holder left").events[0].event == "ADD"
