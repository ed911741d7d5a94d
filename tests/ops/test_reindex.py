"""Reindex: re-embedding a namespace into another model, resumably, switched by one log entry."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from membucket import ops
from membucket.engine.checkpoint import CorruptCheckpoint, collect_garbage, read_pointer
from membucket.errors import EmbedderMismatch, InvalidInput, ServiceUnavailable
from membucket.ops.add import NewMemory
from membucket.ops.reindex import prepare, reindex, switch
from membucket.store import open_store

from tests.support.embedders import HashEmbedder
from tests.support.factories import make_mb
from tests.support.state import dump

NAMES = ["Alice", "Bob", "Chen", "Dana", "Emil", "Farah", "Goran", "Hana"]
THINGS = ["dark roast coffee", "green tea", "rock climbing", "jazz piano", "sourdough bread", "chess openings"]
TEXTS = [f"{n} enjoys {t} on weekends" for n in NAMES for t in THINGS[:5]]  # 40 distinct texts
QUERIES = ["who likes coffee", "Chen piano", "bread on weekends", "Hana climbing", "green tea"]

OLD = HashEmbedder(64, id="test/hash-64")


def new32() -> HashEmbedder:
    return HashEmbedder(32, id="test/hash-32")


class FlakyEmbedder(HashEmbedder):
    """Fails on call number ``fail_on`` (1-based), as a provider outage would mid-run."""

    def __init__(self, dim: int, id: str, fail_on: int) -> None:
        super().__init__(dim, id)
        self.fail_on = fail_on

    def embed(self, texts):
        if self.calls + 1 == self.fail_on:
            self.calls += 1
            raise ServiceUnavailable("provider down")
        return super().embed(texts)


def seed(mb, user: str = "alice") -> list[str]:
    """40 memories in the old space; one archived, one deleted (every state is re-embedded)."""
    owner = mb.context(user)
    ids = ops.add_batch(owner, [NewMemory(t) for t in TEXTS])
    ops.change_state(owner, [ids[3]], "archived")
    ops.delete(owner, [ids[4]])
    return ids


def top(ctx, query: str, k: int = 5) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 5)) for h in ops.search(ctx, query, limit=k, mode="dense")]


@pytest.fixture
def store_url(tmp_path):
    return str(tmp_path / "bucket")


def process(store_url, tmp_path, name, embedder, **kw):
    """A separate 'process': its own replicas and its own (empty) cache directory."""
    return make_mb(store_url, tmp_path / f"cache-{name}", embedder=embedder, **kw)


def vectors_by_id(rep) -> dict[str, np.ndarray]:
    rows = rep.con.execute("SELECT id, vector FROM memories").fetchall()
    return {r[0]: np.frombuffer(r[1], dtype="<f4") for r in rows}


def test_same_model_under_a_new_id_gives_identical_search_results(store_url, tmp_path):
    old = process(store_url, tmp_path, "old", OLD)
    seed(old)
    before = {q: top(old.context("alice"), q) for q in QUERIES}
    same_fn = HashEmbedder(64, id="test/hash-64-v2")
    result = reindex(old.namespace("alice"), same_fn, batch=8)
    assert (result.status, result.previous_embedder, result.embedder, result.memories) == ("switched", "test/hash-64", "test/hash-64-v2", 40)
    new = process(store_url, tmp_path, "new", same_fn)
    after = {q: top(new.context("alice"), q) for q in QUERIES}
    assert after == before and all(len(v) == 5 for v in after.values())
    with pytest.raises(EmbedderMismatch):
        ops.search(old.context("alice"), "coffee")


def test_dimension_change_searches_in_the_new_space_and_refuses_old_writers(store_url, tmp_path):
    old = process(store_url, tmp_path, "old", OLD)
    ids = seed(old)
    e32 = new32()
    result = reindex(old.namespace("alice"), e32, batch=16)
    assert (result.status, result.dim, result.previous_dim, result.embedded, result.inline) == ("switched", 32, 64, 40, 0)
    assert result.checkpoint_written

    new = process(store_url, tmp_path, "new", e32)
    owner = new.context("alice")
    with new.namespace("alice").read() as rep:
        assert (rep.embedder, rep.dim, rep.index.dim) == ("test/hash-32", 32, 32)
        vecs = vectors_by_id(rep)
        texts = dict(rep.con.execute("SELECT id, text FROM memories").fetchall())
    # every row, archived and deleted included, holds the new model's vector of its own text
    assert len(vecs) == 40
    for mid, v in vecs.items():
        np.testing.assert_allclose(v, e32.embed([texts[mid]])[0], atol=1e-6)
    hit = ops.search(owner, TEXTS[10], limit=1, mode="dense")[0]
    assert hit.id == ids[10] and hit.score > 0.99
    # the archived memory comes back searchable in the new space
    ops.change_state(owner, [ids[3]], "active")
    assert ops.search(owner, TEXTS[3], limit=1, mode="dense")[0].id == ids[3]
    # a writer (or reader) still configured with the old model is refused, with the fix in the message
    for call in (lambda: ops.add(old.context("alice", app="cursor"), "Ivy enjoys chess"), lambda: ops.search(old.context("alice"), "x")):
        with pytest.raises(EmbedderMismatch, match="test/hash-32") as err:
            call()
        assert err.value.status == 409 and "reindex" in err.value.message
    assert ops.add(owner, "Ivy enjoys chess").events[0].event == "ADD"


def test_reindex_is_idempotent_and_dry_run_writes_nothing(store_url, tmp_path):
    mb = process(store_url, tmp_path, "a", OLD)
    seed(mb)
    store = mb.store
    before = sorted(i.key for i in store.list("ns/"))
    e32 = new32()
    dry = reindex(mb.namespace("alice"), e32, dry_run=True)
    assert (dry.status, dry.memories, dry.texts, e32.calls) == ("dry_run", 40, 40, 0)
    assert sorted(i.key for i in store.list("ns/")) == before
    assert reindex(mb.namespace("alice"), e32).status == "switched"
    seq = mb.namespace("alice").replica.seq
    calls = e32.calls
    again = reindex(mb.namespace("alice"), e32)
    assert again.status == "already" and e32.calls == calls and mb.namespace("alice").replica.seq == seq
    assert reindex(mb.namespace("nobody"), e32).status == "empty"
    with pytest.raises(InvalidInput):
        reindex(mb.namespace("alice"), new32(), batch=0)


def test_interrupted_run_resumes_and_embeds_only_what_is_missing(store_url, tmp_path):
    mb = process(store_url, tmp_path, "a", OLD)
    seed(mb)
    ns = mb.namespace("alice")
    flaky = FlakyEmbedder(32, "test/hash-32", fail_on=4)  # 40 texts / batch 5 = 8 parts; 3 land
    with pytest.raises(ServiceUnavailable):
        reindex(ns, flaky, batch=5)
    with ns.read() as rep:
        assert rep.embedder == "test/hash-64"  # nothing switched: old model still serves
    assert ops.search(mb.context("alice"), TEXTS[0], limit=1, mode="dense")[0].text == TEXTS[0]
    target = ns.keys.reindex_dir("test/hash-32", 32)
    assert len(list(mb.store.list(target + "parts/"))) == 3

    rerun = new32()
    result = reindex(process(store_url, tmp_path, "b", OLD).namespace("alice"), rerun, batch=5)
    assert (result.status, result.parts_found, result.embedded) == ("switched", 3, 25)
    assert rerun.calls == 5  # only the 5 missing batches
    hit = ops.search(process(store_url, tmp_path, "c", new32()).context("alice"), TEXTS[0], limit=1, mode="dense")[0]
    assert hit.text == TEXTS[0] and hit.score > 0.99


def test_memories_added_or_edited_between_phases_are_embedded_at_the_switch(store_url, tmp_path):
    mb = process(store_url, tmp_path, "a", OLD)
    ids = seed(mb)
    ns = mb.namespace("alice")
    e32 = new32()
    prepared = prepare(ns, e32, batch=10)
    writer = process(store_url, tmp_path, "writer", OLD).context("alice", app="cursor")
    added = ops.add(writer, "Ivy collects vintage maps").events[0].id
    ops.update(writer, ids[0], text="Alice now prefers decaf")
    calls = e32.calls
    seq, inline = switch(ns, e32, prepared, batch=10)
    assert inline == 2 and e32.calls == calls + 1 and seq == ns.replica.seq
    fresh = process(store_url, tmp_path, "fresh", e32)
    with fresh.namespace("alice").read() as rep:
        vecs = vectors_by_id(rep)
    np.testing.assert_allclose(vecs[added], e32.embed(["Ivy collects vintage maps"])[0], atol=1e-6)
    np.testing.assert_allclose(vecs[ids[0]], e32.embed(["Alice now prefers decaf"])[0], atol=1e-6)
    assert ops.search(fresh.context("alice"), "vintage maps", limit=1, mode="dense")[0].id == added


def test_a_writer_that_loses_the_race_to_the_switch_gets_embedder_mismatch(store_url, tmp_path):
    """The old writer built its entry before the switch; its PUT gets 412 and re-validation refuses it."""
    reindexer = process(store_url, tmp_path, "r", OLD)
    seed(reindexer)
    e32 = new32()
    prepared = prepare(reindexer.namespace("alice"), e32)

    class SwitchFirst:
        """The writer's store: just before its first log PUT, the switch lands."""

        def __init__(self, inner):
            self.inner, self.url, self.fired = inner, inner.url, False

        def put(self, key, body, condition=None):
            if "/log/" in key and not self.fired:
                self.fired = True
                switch(reindexer.namespace("alice"), e32, prepared)
            return self.inner.put(key, body, condition)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    writer = make_mb(store_url, tmp_path / "cache-w", embedder=OLD, store=SwitchFirst(open_store(store_url)))
    ctx = writer.context("alice", app="cursor")
    ops.list_memories(ctx)  # warm: the writer's replica is at the pre-switch sequence
    with pytest.raises(EmbedderMismatch):
        ops.add(ctx, "Ivy enjoys chess")
    assert writer.store.fired
    with reindexer.namespace("alice").read() as rep:
        assert rep.con.execute("SELECT count(*) FROM memories WHERE text LIKE 'Ivy%'").fetchone()[0] == 0


def test_reads_and_writes_keep_working_on_the_old_index_during_phase_one(store_url, tmp_path):
    mb = process(store_url, tmp_path, "a", OLD)
    seed(mb)
    ctx = mb.context("alice")
    other = process(store_url, tmp_path, "server", OLD).context("alice", app="claude")
    before = top(ctx, "who likes coffee")
    seen = []

    def during(done, total):
        if seen:
            return
        # another process (a server) and another thread of this process, while embedding is under way
        seen.append(top(other, "who likes coffee"))
        box = []
        t = threading.Thread(target=lambda: box.append(top(ctx, "who likes coffee")))
        t.start()
        t.join(60)
        seen.append(box[0] if box else None)
        seen.append(ops.add(other, "Ivy enjoys chess on weekends").events[0].event)

    result = reindex(mb.namespace("alice"), new32(), batch=4, progress=during)
    assert seen == [before, before, "ADD"]
    assert result.inline == 1 and result.memories == 40
    after = process(store_url, tmp_path, "after", new32()).context("alice")
    assert ops.search(after, "Ivy enjoys chess on weekends", limit=1, mode="dense")[0].text.startswith("Ivy")


def test_fresh_process_after_switch_and_compaction_sees_identical_state(store_url, tmp_path):
    mb = process(store_url, tmp_path, "a", OLD)
    seed(mb)
    lagging = process(store_url, tmp_path, "lagging", OLD)
    ops.list_memories(lagging.context("alice"))  # a replica left before the switch, to replay it
    e32 = new32()
    result = reindex(mb.namespace("alice"), e32, batch=7)
    pointer = read_pointer(mb.store, mb.namespace("alice").keys)
    assert pointer.seq == result.seq

    with mb.namespace("alice").read() as rep:
        want = dump(rep)
    fresh = process(store_url, tmp_path, "fresh", e32)
    with fresh.namespace("alice").read() as rep:
        assert rep.checkpoint_seq == result.seq  # loaded from the new-space checkpoint, no replay
        assert dump(rep) == want
    with lagging.namespace("alice").read() as rep:  # replayed the switch from the log
        assert dump(rep) == want
    results = {q: top(fresh.context("alice"), q) for q in QUERIES}
    assert results == {q: top(process(store_url, tmp_path, "a2", e32).context("alice"), q) for q in QUERIES}

    # GC: the reindex files go once the checkpoint is past the switch (and retention is over);
    # a process starting afterwards still loads the same state
    keys = mb.namespace("alice").keys
    assert list(mb.store.list(keys.reindex_prefix))
    gc = collect_garbage(mb.store, keys, retention_seconds=0, now=10**10)
    assert gc.reindex_deleted == 1 and not list(mb.store.list(keys.reindex_prefix))
    later = process(store_url, tmp_path, "later", e32)
    with later.namespace("alice").read() as rep:
        assert dump(rep) == want


def test_gc_keeps_reindex_files_a_replica_may_still_need(store_url, tmp_path):
    mb = process(store_url, tmp_path, "a", OLD)
    seed(mb)
    ns = mb.namespace("alice")
    ns.compact()
    keys = ns.keys
    flaky = FlakyEmbedder(32, "test/hash-32", fail_on=2)
    with pytest.raises(ServiceUnavailable):
        reindex(ns, flaky, batch=10)
    # an unfinished run is kept (it will be resumed)
    assert collect_garbage(mb.store, keys, 0, now=10**10).reindex_deleted == 0
    assert list(mb.store.list(keys.reindex_prefix)), "parts of the unfinished run"
    result = reindex(ns, new32(), batch=10, compact=False)
    # switched, but the checkpoint is still before the switch: a new replica replays it and needs the pack
    assert read_pointer(mb.store, keys).seq < result.seq
    assert collect_garbage(mb.store, keys, 0, now=10**10).reindex_deleted == 0
    fresh = process(store_url, tmp_path, "fresh", new32())
    with fresh.namespace("alice").read() as rep:
        assert rep.dim == 32 and rep.index.size == 38


def test_an_embedder_returning_the_wrong_shape_switches_nothing(store_url, tmp_path):
    mb = process(store_url, tmp_path, "a", OLD)
    seed(mb)

    class Liar(HashEmbedder):
        def embed(self, texts):
            return super().embed(texts)[:, :16]

    with pytest.raises(ServiceUnavailable, match="shape"):
        reindex(mb.namespace("alice"), Liar(32, id="test/liar"))
    with mb.namespace("alice").read() as rep:
        assert (rep.embedder, rep.dim) == ("test/hash-64", 64)


def test_switch_replay_refuses_a_pack_that_does_not_match_its_checksum(store_url, tmp_path):
    mb = process(store_url, tmp_path, "a", OLD)
    seed(mb)
    result = reindex(mb.namespace("alice"), new32(), compact=False)
    keys = mb.namespace("alice").keys
    (pack_key,) = [i.key for i in mb.store.list(keys.reindex_prefix) if "/vectors/" in i.key]
    body = bytearray(mb.store.get(pack_key).body)
    body[-1] ^= 0xFF
    mb.store.put(pack_key, bytes(body))
    fresh = process(store_url, tmp_path, "fresh", new32())
    with pytest.raises(CorruptCheckpoint, match="checksum"):
        with fresh.namespace("alice").read():
            pass
    rep = fresh.namespace("alice").replica
    assert rep.seq < result.seq and rep.dim != 32  # never a half-switched replica


def test_reindex_on_moto_http_server(s3_http_bucket, tmp_path):
    endpoint, bucket = s3_http_bucket
    url = f"s3://{bucket}/team"
    mb = make_mb(url, tmp_path / "c1", embedder=OLD, endpoint_url=endpoint)
    ids = seed(mb)
    e32 = new32()
    flaky = FlakyEmbedder(32, "test/hash-32", fail_on=3)
    with pytest.raises(ServiceUnavailable):
        reindex(mb.namespace("alice"), flaky, batch=8)
    result = reindex(mb.namespace("alice"), e32, batch=8)
    assert (result.status, result.parts_found, e32.calls) == ("switched", 2, 3)
    fresh = make_mb(url, tmp_path / "c2", embedder=new32(), endpoint_url=endpoint)
    hit = ops.search(fresh.context("alice"), TEXTS[7], limit=1, mode="dense")[0]
    assert hit.id == ids[7] and hit.score > 0.99
    with fresh.namespace("alice").read() as rep:
        assert rep.checkpoint_seq == result.seq and rep.dim == 32


def test_switching_back_and_forth_after_gc(store_url, tmp_path):
    mb = process(store_url, tmp_path, "a", OLD)
    ids = seed(mb)
    ns = mb.namespace("alice")
    keys = ns.keys
    for round_, target in enumerate((new32(), HashEmbedder(64, id="test/hash-64"), new32())):
        assert reindex(ns, target, batch=9).status == "switched"
        collect_garbage(mb.store, keys, 0, now=10**10)
        fresh = process(store_url, tmp_path, f"round{round_}", target)
        hit = ops.search(fresh.context("alice"), TEXTS[20], limit=1, mode="dense")[0]
        assert hit.id == ids[20] and hit.score > 0.99
    assert not list(mb.store.list(keys.reindex_prefix))
