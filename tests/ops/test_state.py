import uuid

import pytest
from membucket import errors, ops


def test_transitions_and_history(owner):
    mid = ops.add(owner, "a memory").events[0].id
    assert ops.change_state(owner, [mid], "paused").changed == [mid]
    assert ops.change_state(owner, [mid], "paused").unchanged == [mid]
    ops.change_state(owner, [mid], "archived")
    mem = ops.get(owner, mid)
    assert mem.state == "archived" and mem.archived_at
    with pytest.raises(errors.IllegalTransition):
        ops.change_state(owner, [mid], "paused")
    ops.delete(owner, [mid])
    assert ops.get(owner, mid).deleted_at
    with pytest.raises(errors.IllegalTransition) as info:
        ops.change_state(owner, [mid], "active")
    assert info.value.status == 409
    events = [(h.event, h.old_state, h.new_state) for h in ops.history(owner, mid)]
    assert events == [("add", None, "active"), ("state", "active", "paused"), ("state", "paused", "archived"), ("state", "archived", "deleted")]


def test_bulk_is_all_or_nothing(owner):
    a = ops.add(owner, "first").events[0].id
    b = ops.add(owner, "second thing").events[0].id
    ops.delete(owner, [b])
    with pytest.raises(errors.IllegalTransition):
        ops.change_state(owner, [a, b], "paused")
    assert ops.get(owner, a).state == "active"
    with pytest.raises(errors.NotFoundError):
        ops.change_state(owner, [a, str(uuid.uuid4())], "paused")
    assert ops.get(owner, a).state == "active"


@pytest.mark.parametrize("bad", ["not-a-uuid", "../../etc/passwd", "", None, 5])
def test_invalid_ids(owner, bad):
    with pytest.raises(errors.InvalidInput):
        ops.change_state(owner, [bad], "paused")
    with pytest.raises(errors.InvalidInput):
        ops.get(owner, bad)


def test_unknown_state(owner):
    mid = ops.add(owner, "x").events[0].id
    with pytest.raises(errors.InvalidState):
        ops.change_state(owner, [mid], "frozen")


def test_batch_limit(mb):
    mb.settings.max_batch = 3
    with pytest.raises(errors.TooLarge):
        ops.change_state(mb.context("alice"), [str(uuid.uuid4()) for _ in range(4)], "paused")


def test_delete_all(owner, cursor_app):
    for t in ("one", "two words", "three whole words"):
        ops.add(cursor_app, t)
    res = ops.delete_all(owner)
    assert len(res.changed) == 3
    assert ops.list_memories(owner).total == 0
    assert ops.list_memories(owner, filters=ops.Filters(states=["deleted"])).total == 3
    assert ops.delete_all(owner).changed == []


def test_update_reembeds(owner):
    mid = ops.add(owner, "Alice lives in Paris").events[0].id
    ops.update(owner, mid, text="Alice moved to Lisbon in spring", categories=["personal"])
    hit = ops.search(owner, "moved to Lisbon")[0]
    assert hit.id == mid and hit.categories == ["personal"]
    ops.delete(owner, [mid])
    with pytest.raises(errors.IllegalTransition):
        ops.update(owner, mid, text="again")
    with pytest.raises(errors.InvalidInput):
        ops.update(owner, mid)
