import pytest
from membucket import errors, ops


@pytest.fixture
def twelve(owner):
    return [ops.add(owner, f"memory number {i} about topic {i * 7}", categories=["even" if i % 2 == 0 else "odd"]).events[0].id for i in range(12)]


def test_page_pagination_with_total(owner, twelve):
    p1 = ops.list_memories(owner, size=5)
    p3 = ops.list_memories(owner, size=5, page=3)
    assert p1.total == 12 and len(p1.items) == 5 and len(p3.items) == 2
    assert p1.to_dict()["pages"] == 3
    assert [m.id for m in p1.items] == list(reversed(twelve))[:5]  # newest first


def test_cursor_walks_every_memory_once(owner, twelve):
    seen, cursor = [], None
    while True:
        page = ops.list_memories(owner, size=5, cursor=cursor, sort="created_at", order="asc")
        seen += [m.id for m in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == twelve


def test_filters_and_sort(owner, twelve):
    ops.change_state(owner, twelve[:2], "paused")
    assert ops.list_memories(owner, filters=ops.Filters(states=["paused"])).total == 2
    assert ops.list_memories(owner, filters=ops.Filters(categories=["odd"])).total == 6
    assert ops.list_memories(owner, filters=ops.Filters(text="TOPIC 7")).total >= 1
    texts = [m.text for m in ops.list_memories(owner, sort="text", order="asc").items]
    assert texts == sorted(texts)


@pytest.mark.parametrize(
    "kwargs",
    [{"sort": "password"}, {"order": "sideways"}, {"size": 0}, {"page": 0}, {"cursor": "garbage!"}, {"size": 5000}],
)
def test_bad_list_arguments(owner, kwargs):
    with pytest.raises(errors.InvalidInput):
        ops.list_memories(owner, **kwargs)


def test_stats_and_categories(owner, cursor_app, twelve):
    ops.add(cursor_app, "from cursor", categories=["work"])
    s = ops.stats(owner)
    assert s["memories"]["total"] == 13 and s["memories"]["by_state"] == {"active": 13}
    assert s["memories"]["by_app"] == {"(owner)": 12, "cursor": 1}
    cats = {c["name"]: c["count"] for c in ops.list_categories(owner)}
    assert cats == {"even": 6, "odd": 6, "work": 1}
    assert s["index"]["active_vectors"] == 13


def test_get_unknown_memory(owner):
    import uuid

    with pytest.raises(errors.NotFoundError) as info:
        ops.get(owner, str(uuid.uuid4()))
    assert info.value.status == 404
