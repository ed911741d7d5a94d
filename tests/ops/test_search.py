import pytest
from membucket import errors, ops


@pytest.fixture
def seeded(mb):
    cursor = mb.context("alice", app="cursor")
    claude = mb.context("alice", app="claude")
    ids = {
        "tea": ops.add(cursor, "Alice drinks green tea every morning", categories=["preferences"], metadata={"source": "chat"}).events[0].id,
        "peanut": ops.add(claude, "Alice is allergic to peanuts", categories=["health"]).events[0].id,
        "berlin": ops.add(claude, "Alice lives in Berlin", categories=["personal"], metadata={"source": "profile"}).events[0].id,
    }
    return mb, ids


def test_search_ranks_the_matching_memory_first(seeded):
    mb, ids = seeded
    hits = ops.search(mb.context("alice"), "is alice allergic to peanuts")
    assert hits[0].id == ids["peanut"] and hits[0].score > hits[-1].score
    assert set(hits[0].to_dict()) >= {"id", "text", "score", "categories", "created_at"}


def test_filters_are_exact(seeded):
    mb, ids = seeded
    owner = mb.context("alice")
    assert {h.id for h in ops.search(owner, "alice", filters=ops.Filters(apps=["claude"]))} == {ids["peanut"], ids["berlin"]}
    assert {h.id for h in ops.search(owner, "alice", filters=ops.Filters(categories=["health"]))} == {ids["peanut"]}
    assert {h.id for h in ops.search(owner, "alice", filters=ops.Filters(metadata={"source": "profile"}))} == {ids["berlin"]}
    assert ops.search(owner, "alice", filters=ops.Filters(created_before="2000-01-01T00:00:00Z")) == []
    assert len(ops.search(owner, "alice", filters=ops.Filters(created_after="2000-01-01"))) == 3


def test_threshold_and_limit(seeded):
    mb, ids = seeded
    owner = mb.context("alice")
    assert len(ops.search(owner, "alice", limit=1)) == 1
    assert all(h.score >= 0.5 for h in ops.search(owner, "allergic to peanuts", threshold=0.5))
    with pytest.raises(errors.TooLarge):
        ops.search(owner, "x", limit=1000)
    with pytest.raises(errors.InvalidInput):
        ops.search(owner, "x", limit=0)
    with pytest.raises(errors.EmptyText):
        ops.search(owner, "  ")


def test_only_active_memories_are_found(seeded):
    mb, ids = seeded
    owner = mb.context("alice")
    ops.change_state(owner, [ids["peanut"]], "paused")
    assert ids["peanut"] not in {h.id for h in ops.search(owner, "allergic to peanuts")}
    ops.change_state(owner, [ids["peanut"]], "active")
    assert ops.search(owner, "allergic to peanuts")[0].id == ids["peanut"]
    ops.delete(owner, [ids["peanut"]])
    assert ids["peanut"] not in {h.id for h in ops.search(owner, "allergic to peanuts")}


def test_search_on_empty_namespace(mb):
    assert ops.search(mb.context("nobody"), "anything") == []


def test_related_excludes_itself(seeded):
    mb, ids = seeded
    rel = ops.related(mb.context("alice"), ids["tea"], limit=5)
    assert ids["tea"] not in {h.id for h in rel} and len(rel) == 2
