"""Sync costs O(new entries): it probes log numbers by name and never lists the log."""

from __future__ import annotations

from collections import Counter

from membucket import ops
from membucket.store import MemoryStore

from tests.support.factories import make_mb


class _Counting(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def get(self, key, **kw):
        self.calls["get"] += 1
        return super().get(key, **kw)

    def list(self, prefix, **kw):
        self.calls["list:" + prefix.rsplit("/", 2)[-2]] += 1
        return super().list(prefix, **kw)


def test_sync_reads_only_what_is_new(tmp_path):
    store = _Counting()
    writer = make_mb("memory://cost", tmp_path / "w", store=store, compact_after=0)
    reader = make_mb("memory://cost", tmp_path / "r", store=store, compact_after=0)
    ctx = writer.context("alice")
    for i in range(200):
        ops.add(ctx, f"history entry {i}")
    rns = reader.namespace("alice")
    with rns.read():
        pass  # cold: replays the 200 entries
    for i in range(3):
        ops.add(ctx, f"new entry {i}")
    store.calls.clear()
    with rns.read() as rep:
        assert rep.seq == 203
    # three new entries, one miss at 204, one CHECKPOINT read: whatever the history's length
    assert store.calls == Counter({"get": 5}), store.calls
    store.calls.clear()
    with rns.read():
        pass
    assert store.calls == Counter({"get": 2}), store.calls
