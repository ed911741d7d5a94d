"""On a directory store a starved commit takes the writer turn and the other writers stand aside
(engine/namespace.py, store/priority.py); stores without a turn commit as before."""

from __future__ import annotations

import threading
import time

import membucket.engine.namespace as namespace_module
from membucket import ops
from membucket.store import LocalStore, MemoryStore
from membucket.store.priority import WriterPriority

from tests.support.factories import make_mb


def test_a_writer_stands_aside_while_a_starved_writer_holds_the_turn(tmp_path):
    store = LocalStore(tmp_path / "bucket")
    mb = make_mb(store.url, tmp_path / "c", store=store)
    ctx = mb.context("alice")
    ops.add(ctx, "before the turn")
    keys = mb.namespace("alice").keys
    done = threading.Event()
    turn = store.writer_priority(keys.log_prefix)
    assert turn is not None
    with turn.hold(time.monotonic() + 10):  # as a starved writer in another process would
        t = threading.Thread(target=lambda: (ops.add(ctx, "after the turn"), done.set()))
        t.start()
        time.sleep(0.4)
        assert not done.is_set()  # waiting before its PUT
        assert [i.key for i in store.list(keys.log_prefix)] == [keys.log(1)]
    assert done.wait(10)
    t.join()
    assert sorted(m.text for m in ops.list_memories(ctx).items) == ["after the turn", "before the turn"]


def test_a_commit_that_waited_past_the_threshold_takes_the_turn(tmp_path, monkeypatch):
    taken: list[str] = []
    real_hold = WriterPriority.hold

    def spy(self, deadline):
        taken.append(self.path.name)
        return real_hold(self, deadline)

    monkeypatch.setattr(WriterPriority, "hold", spy)
    store = LocalStore(tmp_path / "bucket")
    mb = make_mb(store.url, tmp_path / "c", store=store)
    ops.add(mb.context("alice"), "an ordinary commit")
    assert taken == []  # a commit that did not wait never takes the turn
    monkeypatch.setattr(namespace_module, "STARVED_AFTER_SECONDS", -1.0)
    ops.add(mb.context("alice"), "a starved commit")
    assert len(taken) == 1
    assert not store.writer_priority(mb.namespace("alice").keys.log_prefix).claimed()  # released
    assert ops.list_memories(mb.context("alice")).total == 2


def test_a_store_without_a_turn_commits_as_before(tmp_path, monkeypatch):
    monkeypatch.setattr(namespace_module, "STARVED_AFTER_SECONDS", -1.0)
    store = MemoryStore()
    mb = make_mb(store.url, tmp_path / "c", store=store)
    for i in range(3):
        ops.add(mb.context("alice"), f"memory {i}")
    assert ops.list_memories(mb.context("alice")).total == 3
