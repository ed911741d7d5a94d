"""A writer that loses a log number learns the winner's entry in one GET and takes the next number
without syncing again (issue 12: 8 writers on moto's server paid a full sync per lost race); a
chase that loses again catches up on the entries written meanwhile."""

from __future__ import annotations

from membucket import ops
from membucket.store import MemoryStore

from tests.support.factories import make_mb


class _Racing(MemoryStore):
    """Records the calls made outside ``race``; ``race`` runs once, just before the next log PUT."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.race = None
        self._racing = False

    def _note(self, method: str, key: str) -> None:
        if not self._racing:
            self.calls.append(f"{method} {key.split('/')[2]}")

    def get(self, key, **kw):
        self._note("GET", key)
        return super().get(key, **kw)

    def head(self, key):
        self._note("HEAD", key)
        return super().head(key)

    def list(self, prefix, **kw):
        self._note("LIST", prefix)
        return super().list(prefix, **kw)

    def put(self, key, body, condition=None):
        if self.race is not None and "/log/" in key:
            race, self.race = self.race, None
            self._racing = True
            try:
                race()  # another writer takes this number first
            finally:
                self._racing = False
        self._note("PUT", key)
        return super().put(key, body, condition)


def test_a_lost_race_costs_one_get_and_the_next_put(tmp_path):
    store = _Racing()
    a = make_mb("memory://chase", tmp_path / "a", store=store, compact_after=0)
    b = make_mb("memory://chase", tmp_path / "b", store=store, compact_after=0)
    actx, bctx = a.context("alice"), b.context("alice")
    ops.add(actx, "first")
    ops.list_memories(bctx)  # b is warm at seq 1
    store.race = lambda: ops.add(bctx, "b wins seq 2")
    store.calls.clear()
    event = ops.add(actx, "a takes seq 3").events[0]
    assert event.event == "ADD"
    # sync (a miss at 2, the pointer), the PUT b beat, b's entry, then seq 3 straight away
    assert store.calls == ["GET log", "GET CHECKPOINT", "PUT log", "GET log", "PUT log"], store.calls
    texts = {m.text for m in ops.list_memories(make_mb("memory://chase", tmp_path / "c", store=store).context("alice")).items}
    assert texts == {"first", "b wins seq 2", "a takes seq 3"}


def test_without_a_retention_grace_a_lost_race_syncs_again(tmp_path):
    """retention_seconds=0 (GC may delete anything below the previous checkpoint at once): the
    loser reads the pointer again before its next PUT, as every commit's first attempt does."""
    store = _Racing()
    a = make_mb("memory://chase0", tmp_path / "a", store=store, compact_after=0, retention_seconds=0)
    b = make_mb("memory://chase0", tmp_path / "b", store=store, compact_after=0)
    actx, bctx = a.context("alice"), b.context("alice")
    ops.add(actx, "first")
    ops.list_memories(bctx)
    store.race = lambda: ops.add(bctx, "b wins seq 2")
    store.calls.clear()
    assert ops.add(actx, "a takes seq 3").events[0].event == "ADD"
    assert store.calls == ["GET log", "GET CHECKPOINT", "PUT log", "GET log", "GET log", "GET CHECKPOINT", "PUT log"], store.calls


def test_a_chase_that_loses_again_catches_up_before_its_next_put(tmp_path):
    store = _Racing()
    a = make_mb("memory://chase2", tmp_path / "a", store=store, compact_after=0)
    b = make_mb("memory://chase2", tmp_path / "b", store=store, compact_after=0)
    actx, bctx = a.context("alice"), b.context("alice")
    ops.add(actx, "first")
    ops.list_memories(bctx)

    def b_wins_twice() -> None:
        ops.add(bctx, "b wins seq 2")
        store.race = lambda: [ops.add(bctx, "b wins seq 3"), ops.add(bctx, "b wins seq 4")]

    store.race = b_wins_twice
    store.calls.clear()
    assert ops.add(actx, "a takes seq 5").events[0].event == "ADD"
    assert store.calls == [
        "GET log", "GET CHECKPOINT", "PUT log",  # sync, then seq 2: b's
        "GET log", "PUT log",  # b's seq 2, then seq 3: b's again
        "GET log", "GET log", "GET log",  # b's seq 3, b's seq 4, a miss at 5
        "PUT log",
    ], store.calls
