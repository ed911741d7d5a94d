"""Sync costs O(new entries), whatever the history: reads probe log numbers by name; a writer's
sync and a cold tail list strictly after the replica's sequence, where a store lists that in one
request (S3, and the memory store that stands for it); a directory store always probes."""

from __future__ import annotations

from collections import Counter

from membucket import ops
from membucket.store import LocalStore, MemoryStore, NotFound

from tests.support.factories import make_mb


class _Counting(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.by_key: Counter[str] = Counter()  # "get log hit", "get log miss", "get CHECKPOINT", "put log", "list log"...

    def _kind(self, key: str) -> str:
        return "log" if "/log/" in key else key.rsplit("/", 1)[-1]

    def get(self, key, **kw):
        self.calls["get"] += 1
        try:
            got = super().get(key, **kw)
        except NotFound:
            self.by_key[f"get {self._kind(key)} miss"] += 1
            raise
        self.by_key[f"get {self._kind(key)}" + (" hit" if "/log/" in key else "")] += 1
        return got

    def put(self, key, body, condition=None):
        self.by_key[f"put {self._kind(key)}"] += 1
        return super().put(key, body, condition)

    def list(self, prefix, **kw):
        self.calls["list:" + prefix.rsplit("/", 2)[-2]] += 1
        self.by_key["list " + prefix.rsplit("/", 2)[-2]] += 1
        return super().list(prefix, **kw)

    def log_calls(self) -> Counter[str]:
        return Counter({k: v for k, v in self.by_key.items() if k.endswith(("log", "log hit", "log miss", "CHECKPOINT"))})


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


def test_a_writer_learns_the_head_with_one_list(tmp_path):
    """No miss and no CHECKPOINT read before a commit: an empty listing after seq is the head."""
    store = _Counting()
    a = make_mb("memory://w", tmp_path / "a", store=store, compact_after=0)
    b = make_mb("memory://w", tmp_path / "b", store=store, compact_after=0)
    actx, bctx = a.context("alice"), b.context("alice")
    ops.add(actx, "a warms up")
    ops.add(bctx, "b warms up")
    for i in range(3):
        ops.add(bctx, f"b writes {i}")
    store.by_key.clear()
    ops.add(actx, "a is four entries behind")
    assert store.log_calls() == Counter({"list log": 1, "get log hit": 4, "put log": 1}), store.by_key
    store.by_key.clear()
    ops.add(actx, "a is at the head")
    assert store.log_calls() == Counter({"list log": 1, "put log": 1}), store.by_key
    with a.namespace("alice").read() as rep:
        assert rep.seq == 7


class _Rival(_Counting):
    """The first PUT of ``log/<race>`` finds another writer's entry there (a lost race)."""

    def __init__(self) -> None:
        super().__init__()
        self.race: str | None = None
        self.rival_body: bytes = b""

    def put(self, key, body, condition=None):
        if key == self.race:
            self.race = None
            super().put(key, self.rival_body)
        return super().put(key, body, condition)


def test_a_lost_race_costs_the_winner_s_get_and_one_list(tmp_path):
    store = _Rival()
    a = make_mb("memory://race", tmp_path / "a", store=store, compact_after=0)
    b = make_mb("memory://race", tmp_path / "b", store=store, compact_after=0)
    ops.add(a.context("alice"), "first")
    bns = b.namespace("alice")
    with bns.read():
        pass
    ops.add(a.context("alice"), "the rival's add")
    keys = a.namespace("alice").keys
    store.rival_body = store.get(keys.log(2)).body
    store.delete(keys.log(2))
    store.race = keys.log(2)  # b's PUT of log/2 will meet the rival's entry
    store.by_key.clear()
    ops.add(b.context("alice"), "b loses the first race")
    # the 412, the winner's entry in one GET, then one LIST after it and the PUT of log/3: no
    # probe miss, no CHECKPOINT read
    assert store.log_calls() == Counter({"put log": 3, "list log": 2, "get log hit": 1}), store.by_key
    with bns.read() as rep:
        assert rep.seq == 3
    texts = sorted(m.text for m in ops.list_memories(b.context("alice")).items)
    assert texts == ["b loses the first race", "first", "the rival's add"]


def test_probes_past_the_head_stay_under_a_quarter_of_the_reads(tmp_path):
    """A reader a few entries behind reads one at a time; the read-ahead grows with the tail."""
    store = _Counting()
    writer = make_mb("memory://probe", tmp_path / "w", store=store, compact_after=0)
    reader = make_mb("memory://probe", tmp_path / "r", store=store, compact_after=0)
    ctx = writer.context("alice")
    ops.add(ctx, "warm")
    rns = reader.namespace("alice")
    with rns.read():
        pass
    for behind in (3, 12, 40):
        for i in range(behind):
            ops.add(ctx, f"entry {behind} {i}")
        store.by_key.clear()
        with rns.read():
            pass
        misses = store.by_key["get log miss"]
        assert store.by_key["get log hit"] == behind
        assert 1 <= misses <= max(1, behind // 4), (behind, store.by_key)


def test_a_directory_store_probes_even_for_a_writer(tmp_path):
    """Its listing reads the whole folder: a writer's sync probes as a read does."""
    url = str(tmp_path / "bucket")
    store = LocalStore(url)
    assert not store.cheap_list_after and MemoryStore.cheap_list_after
    calls: Counter[str] = Counter()
    real_list = store.list

    def counting_list(prefix, **kw):
        calls[prefix.rsplit("/", 2)[-2]] += 1
        return real_list(prefix, **kw)

    store.list = counting_list
    mb = make_mb(url, tmp_path / "c", store=store, compact_after=0)
    for i in range(5):
        ops.add(mb.context("alice"), f"entry {i}")
    assert calls["log"] == 0, calls


def _cold_read(store: _Counting, url: str, tmp_path, seq: int) -> Counter[str]:
    """The log calls of a fresh replica's first read, which must reach ``seq``."""
    store.by_key.clear()
    with make_mb(url, tmp_path / "r", store=store).namespace("alice").read() as rep:
        assert rep.seq == seq
    return store.log_calls()


def test_a_cold_tail_is_listed_once(tmp_path):
    store = _Counting()
    writer = make_mb("memory://cold", tmp_path / "w", store=store, compact_after=0)
    ctx = writer.context("alice")
    for i in range(30):
        ops.add(ctx, f"entry {i}")
    writer.compact("alice", gc=False)
    for i in range(40):
        ops.add(ctx, f"after the checkpoint {i}")
    calls = _cold_read(store, "memory://cold", tmp_path, seq=70)
    assert calls["list log"] == 1 and calls["get log hit"] == 40 and calls["get log miss"] == 0, calls


def test_a_tail_longer_than_a_listing_page_is_read_page_by_page(tmp_path, monkeypatch):
    import membucket.engine.replica as replica_module

    monkeypatch.setattr(replica_module, "_LIST_PAGE", 16)
    store = _Counting()
    writer = make_mb("memory://pages", tmp_path / "w", store=store, compact_after=0)
    ctx = writer.context("alice")
    for i in range(40):
        ops.add(ctx, f"entry {i}")
    calls = _cold_read(store, "memory://pages", tmp_path, seq=40)
    assert calls["list log"] == 3 and calls["get log hit"] == 40, calls  # pages of 16, 16 and 8
