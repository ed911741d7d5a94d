"""The BM25 index: ranking, tokenising, incremental upkeep by replay, cold == warm."""

import numpy as np
import pytest
from membucket import ops
from membucket.engine.lexical import LexicalIndex, tokenize

from tests.support.factories import make_mb


@pytest.fixture
def bucket(tmp_path):
    return str(tmp_path / "bucket")


def lexical_ids(ctx, query, limit=10):
    return [h.id for h in ops.search(ctx, query, limit=limit, mode="lexical")]


def test_tokenize_lowercases_drops_stop_words_and_stems():
    assert tokenize("The Paintings she PAINTED, and running!") == ["paint", "paint", "run"]
    assert tokenize("Zürich café 2023") == ["zürich", "café", "2023"]
    assert tokenize("the a of") == []


def test_bm25_ranks_exact_term_matches_first():
    idx = LexicalIndex()
    texts = ["I love hiking in the mountains", "We went to Zanzibar on holiday", "Cooking pasta tonight",
             "Zanzibar Zanzibar is lovely in June, Zanzibar", "A trip to the mountains soon"]
    idx.add(range(1, 6), texts)
    scores, vids = idx.search("when was Zanzibar?", 5)
    assert list(vids) == [4, 2]  # more occurrences first; documents sharing no term are not returned
    assert np.all(np.diff(scores) <= 0)
    _, vids = idx.search("when was the zanzibar trip", 5)
    assert set(vids) == {2, 4, 5} and 3 not in vids
    _, only = idx.search("zanzibar", 5, allowed=np.array([2, 3]))
    assert list(only) == [2]  # allowed restricts candidates exactly
    assert len(idx.search("zanzibar", 5, allowed=np.array([], dtype=np.int64))[1]) == 0


def test_index_add_remove_and_reindex_keep_statistics_exact():
    a, b = LexicalIndex(), LexicalIndex()
    a.add([1, 2, 3], ["red apple", "green apple pie", "blue sky"])
    a.add([2], ["purple plum"])  # re-index replaces the old text
    a.remove([3, 99])
    b.add([1, 2], ["red apple", "purple plum"])
    for q in ("apple", "plum", "sky", "pie red"):
        sa, va = a.search(q, 5)
        sb, vb = b.search(q, 5)
        assert list(va) == list(vb) and np.allclose(sa, sb)
    assert list(a.ids()) == [1, 2]


def test_adds_updates_and_state_changes_are_reflected_incrementally(bucket, tmp_path):
    mb = make_mb(bucket, tmp_path / "c1")
    ctx = mb.context("alice")
    first = ops.add(ctx, "Alice adopted a greyhound named Comet").events[0].id
    assert lexical_ids(ctx, "greyhound") == [first]
    with ctx.ns.read() as rep:
        built = rep.lexical
        assert built is not None and built.size == 1
    second = ops.add(ctx, "Bob also wants a greyhound puppy").events[0].id
    assert set(lexical_ids(ctx, "greyhound")) == {first, second}
    with ctx.ns.read() as rep:
        assert rep.lexical is built  # kept in step, not rebuilt
    ops.update(ctx, second, text="Bob prefers cats")
    assert lexical_ids(ctx, "greyhound") == [first]
    assert lexical_ids(ctx, "cats") == [second]
    ops.change_state(ctx, [first], "paused")
    assert lexical_ids(ctx, "greyhound comet") == []
    ops.change_state(ctx, [first], "active")
    assert lexical_ids(ctx, "comet") == [first]
    ops.change_state(ctx, [first], "archived")
    ops.delete(ctx, [second])
    assert lexical_ids(ctx, "comet cats greyhound") == []
    with ctx.ns.read() as rep:
        assert rep.lexical is built and rep.lexical.size == 0
    # a second process replaying the log agrees
    other = make_mb(bucket, tmp_path / "c2").context("alice")
    assert lexical_ids(other, "comet cats greyhound") == []


def test_cold_replica_from_checkpoint_gives_the_same_lexical_results(bucket, tmp_path):
    writer = make_mb(bucket, tmp_path / "c1")
    ctx = writer.context("alice")
    ids = [ops.add(ctx, f"note {i}: the {['red', 'green', 'blue'][i % 3]} kite number {i} flew over {['Oslo', 'Lima'][i % 2]}").events[0].id
           for i in range(24)]
    ops.change_state(ctx, ids[:4], "paused")
    ops.delete(ctx, ids[4:6])
    ops.update(ctx, ids[6], text="note six: a yellow balloon over Oslo")
    queries = ["red kite", "Oslo balloon", "blue kite over Lima", "yellow", "number 7", "paused kite 1"]
    warm = {q: [(h.id, h.score) for h in ops.search(ctx, q, limit=20, mode="lexical")] for q in queries}
    writer.compact("alice", gc=False)
    cold_mb = make_mb(bucket, tmp_path / "c-cold")
    cold = cold_mb.context("alice")
    with cold.ns.read() as rep:
        # loaded from the terms the checkpoint's segments carry (no text re-tokenized)
        assert rep.checkpoint_seq > 0 and rep.lexical is not None and rep.lexical.size == 24 - 6
    for q in queries:
        assert [(h.id, h.score) for h in ops.search(cold, q, limit=20, mode="lexical")] == warm[q]
    seen = {h.id for q in queries for h in ops.search(cold, q, limit=20, mode="hybrid")}
    assert seen and seen.isdisjoint(ids[:6])  # paused and deleted memories are not indexed
    # changes after the load go on top of the loaded base and give what a fresh build gives
    ops.update(cold, ids[7], text="note seven: a red balloon over Lima")
    ops.change_state(cold, [ids[8]], "paused")
    ops.add(cold, "a blue kite and a red balloon")
    with cold.ns.read() as rep:
        loaded = rep.lexical
        rep.lexical = None
        rebuilt = rep.lexical_index()
        for q in queries + ["red balloon", "Lima"]:
            got, want = loaded.search(q, 20), rebuilt.search(q, 20)
            assert got[1].tolist() == want[1].tolist() and got[0].tolist() == pytest.approx(want[0].tolist())
        assert loaded.ids().tolist() == rebuilt.ids().tolist()
