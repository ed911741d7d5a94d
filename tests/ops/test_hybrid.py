"""Lexical and hybrid search obey exactly the same filters and access rules as dense search.

Every query below shares words with the hidden memories, so BM25 would rank them high: a leak
would show. Each mode must return a subset of what the caller may list.
"""

import pytest
from membucket import errors, ops

from tests.api.conftest import running_api

MODES = ("dense", "lexical", "hybrid")
QUERY = "alice insulin payments bicycle secret diary red"


@pytest.fixture
def world(mb):
    owner = mb.context("alice")
    cursor = mb.context("alice", app="cursor")
    claude = mb.context("alice", app="claude")
    ids = {
        "health": ops.add(owner, "Alice takes insulin daily, red pen notes", categories=["health"]).events[0].id,
        "work": ops.add(owner, "Alice leads the payments team", categories=["work"]).events[0].id,
        "misc": ops.add(owner, "Alice bought a red bicycle").events[0].id,
        "secret": ops.add(owner, "Alice keeps a secret diary", categories=["private"]).events[0].id,
        "by_claude": ops.add(claude, "Alice asked claude about a red bicycle bell").events[0].id,
    }
    ops.search(cursor, "alice")  # first use creates the app
    return mb, owner, cursor, claude, ids


def found(ctx, mode, **kw):
    return {h.id for h in ops.search(ctx, QUERY, limit=50, mode=mode, **kw)}


def assert_all_modes(ctx, expected, **kw):
    for mode in MODES:
        assert found(ctx, mode, **kw) <= expected, mode
    assert found(ctx, "hybrid", **kw) == expected  # hybrid sees every visible matching memory


def test_all_modes_agree_with_listing_when_unrestricted(world):
    mb, owner, cursor, claude, ids = world
    assert_all_modes(owner, set(ids.values()))
    assert_all_modes(cursor, set(ids.values()))


def test_deny_rules_hold_in_every_mode(world):
    mb, owner, cursor, claude, ids = world
    ops.add_rule(owner, "cursor", "deny", "memory", ids["secret"])
    ops.add_rule(owner, "cursor", "deny", "category", "health")
    assert_all_modes(cursor, set(ids.values()) - {ids["secret"], ids["health"]})
    # a query made of the hidden memory's own words still cannot reach it
    for mode in MODES:
        assert ids["secret"] not in {h.id for h in ops.search(cursor, "secret diary", mode=mode)}
    ops.add_rule(owner, "cursor", "deny", "all")
    for mode in MODES:
        assert found(cursor, mode) == set()
    assert_all_modes(owner, set(ids.values()))  # the owner is not subject to rules


def test_allow_list_mode_holds_in_every_mode(world):
    mb, owner, cursor, claude, ids = world
    ops.add_rule(owner, "cursor", "allow", "category", "work")
    ops.add_rule(owner, "cursor", "allow", "memory", ids["misc"])
    assert_all_modes(cursor, {ids["work"], ids["misc"]})


def test_paused_app_cannot_search_in_any_mode(world):
    mb, owner, cursor, claude, ids = world
    ops.set_app_paused(owner, "cursor", True)
    for mode in MODES:
        with pytest.raises(errors.AppPaused):
            ops.search(cursor, QUERY, mode=mode)


def test_app_category_and_text_filters_hold_in_every_mode(world):
    mb, owner, cursor, claude, ids = world
    assert_all_modes(owner, {ids["by_claude"]}, filters=ops.Filters(apps=["claude"]))
    assert_all_modes(owner, {ids["health"], ids["work"]}, filters=ops.Filters(categories=["health", "work"]))
    assert_all_modes(owner, {ids["misc"], ids["by_claude"]}, filters=ops.Filters(text="bicycle"))
    assert_all_modes(owner, set(), filters=ops.Filters(apps=["nobody"]))


def test_paused_archived_and_deleted_memories_never_match(world):
    mb, owner, cursor, claude, ids = world
    ops.change_state(owner, [ids["misc"]], "paused")
    ops.change_state(owner, [ids["work"]], "archived")
    ops.delete(owner, [ids["secret"]])
    visible = {ids["health"], ids["by_claude"]}
    assert_all_modes(owner, visible)
    assert_all_modes(cursor, visible)
    # asking for other states through the filter does not bring them into search
    assert_all_modes(owner, visible, filters=ops.Filters(states=["active", "paused", "archived"]))
    ops.change_state(owner, [ids["misc"]], "active")
    assert_all_modes(owner, visible | {ids["misc"]})


def test_hybrid_scores_are_at_least_the_cosine_and_threshold_is_a_cosine(world):
    mb, owner, cursor, claude, ids = world
    dense = {h.id: h.score for h in ops.search(owner, "red bicycle", limit=50, mode="dense")}
    hybrid = ops.search(owner, "red bicycle", limit=50, mode="hybrid")
    assert [h.score for h in hybrid] == sorted((h.score for h in hybrid), reverse=True)
    assert all(h.score >= dense[h.id] - 1e-6 for h in hybrid)
    for mode in MODES:
        kept = {h.id for h in ops.search(owner, "red bicycle", limit=50, mode=mode, threshold=0.3)}
        assert kept <= {i for i, s in dense.items() if s >= 0.3}, mode
    lexical = ops.search(owner, "bicycle", mode="lexical")
    assert {h.id for h in lexical} == {ids["misc"], ids["by_claude"]}


def test_exact_term_match_wins_in_lexical_and_hybrid(world):
    mb, owner, cursor, claude, ids = world
    for mode in ("lexical", "hybrid"):
        assert ops.search(owner, "payments", mode=mode)[0].id == ids["work"]


@pytest.mark.parametrize("bad", ["sparse", "", "HYBRID ", 3, ["dense"]])
def test_invalid_mode_is_invalid_input(world, bad):
    mb, owner, cursor, claude, ids = world
    if bad == "HYBRID ":  # case and surrounding space are forgiven
        assert ops.search(owner, "alice", mode=bad)
        return
    with pytest.raises(errors.InvalidInput) as info:
        ops.search(owner, "alice", mode=bad)
    assert 400 <= info.value.status < 500


def test_search_vector_needs_what_its_mode_uses(world):
    mb, owner, cursor, claude, ids = world
    with pytest.raises(errors.InvalidInput):
        ops.search_vector(owner, None, mode="dense")
    with pytest.raises(errors.InvalidInput):
        ops.search_vector(owner, mb.embedder.embed(["x"])[0], mode="lexical")  # no query text
    with pytest.raises(errors.InvalidInput):
        ops.search_vector(owner, None, query="alice", mode="lexical", threshold=0.2)  # threshold is a cosine
    assert ops.search_vector(owner, None, query="alice", mode="lexical")


def test_rest_mode_is_validated_and_threaded(tmp_path):
    with running_api(tmp_path) as api:
        c = api.as_("alice")
        assert c.post("/memories", json={"text": "Alice bought a red bicycle"}).status_code == 201
        assert c.post("/memories", json={"text": "Bob plays chess on Sundays"}).status_code == 201
        for mode in MODES:
            r = c.post("/memories/search", json={"query": "bicycle", "mode": mode})
            assert r.status_code == 200, r.text
            assert r.json()["items"][0]["text"] == "Alice bought a red bicycle"
        r = c.post("/memories/search", json={"query": "chess", "mode": "lexical"})
        assert [h["text"] for h in r.json()["items"]] == ["Bob plays chess on Sundays"]
        r = c.post("/memories/search", json={"query": "bicycle", "mode": "sparse"})
        assert 400 <= r.status_code < 500 and r.json()["error"]["code"] in ("validation_error", "invalid_input")


# -- context neighbours ----------------------------------------------------------------------

CONTEXT = [
    "Which instrument did Maria pick up last winter?",  # asks: shares words with the query
    "The cello, and she practises every evening",  # answers: shares no word with the query
]
DECOYS = [f"The {w} sits on the kitchen shelf every evening" for w in ("kettle", "toaster", "radio", "clock", "vase")]


def _rank_of(ctx, memory_id, query="which instrument did maria pick up"):
    hits = [h.id for h in ops.search(ctx, query, limit=20, mode="hybrid")]
    return hits.index(memory_id) if memory_id in hits else None


def _answer_ids(ctx, texts):
    return ops.add_batch(ctx, [ops.NewMemory(t) for t in texts])


def test_a_memory_next_to_a_match_moves_up(mb):
    cursor = mb.context("alice", app="cursor")
    ask, answer = _answer_ids(cursor, CONTEXT)
    _answer_ids(cursor, DECOYS)
    with_context = _rank_of(cursor, answer)
    # the same two texts written by different apps are not each other's context
    other = mb.context("bob", app="cursor")
    _answer_ids(other, CONTEXT[:1])
    _answer_ids(mb.context("bob", app="claude"), CONTEXT[1:])
    _answer_ids(other, DECOYS)
    answer_bob = next(h.id for h in ops.search(mb.context("bob"), "cello practises", limit=1, mode="lexical"))
    without_context = _rank_of(mb.context("bob"), answer_bob)
    assert with_context is not None and with_context == 1  # right after the memory that asks
    assert without_context is None or without_context > with_context


def _scores(ctx, mode):
    return {h.id: h.score for h in ops.search(ctx, "which instrument did maria pick up", limit=20, mode=mode)}


def test_hidden_neighbours_lend_no_context(mb):
    owner = mb.context("alice")
    ask, answer, *_ = _answer_ids(mb.context("alice", app="claude"), CONTEXT + DECOYS)
    ops.search(mb.context("alice", app="cursor"), "x")  # cursor exists
    cursor = mb.context("alice", app="cursor")
    # the answer shares no word with the query: alone its hybrid score is its cosine
    visible = _scores(cursor, "hybrid")
    assert visible[answer] > _scores(cursor, "dense")[answer] + 0.05
    # deny the asking memory to cursor: it must lend no context to its neighbour
    ops.add_rule(owner, "cursor", "deny", "memory", ask)
    hidden = _scores(cursor, "hybrid")
    assert ask not in hidden
    assert hidden[answer] == pytest.approx(_scores(cursor, "dense")[answer], abs=1e-6)
    assert _scores(owner, "hybrid")[answer] == pytest.approx(visible[answer], abs=1e-6)  # the owner still sees it
    # a paused neighbour lends nothing to anyone
    ops.delete_rule(owner, ops.list_rules(owner)[0].id)
    ops.change_state(owner, [ask], "paused")
    for ctx in (owner, cursor):
        assert _scores(ctx, "hybrid")[answer] == pytest.approx(_scores(ctx, "dense")[answer], abs=1e-6)
