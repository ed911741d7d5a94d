"""Stats, categories, access log and app management as seen by an app; readiness and the masked config."""

import uuid

import pytest
from membucket import errors, ops
from membucket.ops.system import mask_url, public_config
from membucket.settings import Settings
from membucket.store import Unavailable


@pytest.fixture
def world(mb):
    owner = mb.context("alice")
    cursor = mb.context("alice", app="cursor")
    ids = {
        "health": ops.add(owner, "Alice takes insulin daily", categories=["health"]).events[0].id,
        "work": ops.add(owner, "Alice leads the payments team", categories=["work"]).events[0].id,
        "old": ops.add(owner, "Alice once lived in Lisbon", categories=["places"]).events[0].id,
    }
    ops.change_state(owner, [ids["old"]], "archived")
    ops.search(cursor, "alice")  # first use creates the app
    return owner, cursor, ids


def test_app_counts_cover_only_what_it_may_see(world):
    owner, cursor, ids = world
    ops.add_rule(owner, "cursor", "deny", "category", "health")
    assert [c["name"] for c in ops.list_categories(cursor)] == ["work"]
    assert {c["name"] for c in ops.list_categories(owner)} == {"health", "work", "places"}
    s = ops.stats(cursor)["memories"]
    assert s["total"] == 1 and s["by_state"] == {"active": 1} and s["by_category"] == {"work": 1}
    assert ops.stats(owner)["memories"]["by_state"] == {"active": 2, "archived": 1}
    ops.add_rule(owner, "cursor", "deny", "all")
    assert ops.list_categories(cursor) == [] and ops.stats(cursor)["memories"]["total"] == 0


def test_paused_app_is_refused_by_summaries_and_management(world):
    owner, cursor, ids = world
    ops.set_app_paused(owner, "cursor", True)
    for call in (
        lambda: ops.stats(cursor),
        lambda: ops.list_categories(cursor),
        lambda: ops.access_log(cursor),
        lambda: ops.list_apps(cursor),
        lambda: ops.get_app(cursor, "cursor"),
        lambda: ops.set_app_paused(cursor, "cursor", False),  # cannot resume itself
        lambda: ops.list_rules(cursor),
        lambda: ops.add_rule(cursor, "claude", "deny"),
        lambda: ops.check_caller(cursor),
    ):
        with pytest.raises(errors.AppPaused):
            call()
    assert ops.get_app(owner, "cursor").paused and ops.list_rules(owner) == []
    ops.check_caller(owner)  # the owner always passes


def test_deny_all_app_cannot_change_rules(world):
    owner, cursor, ids = world
    rule = ops.add_rule(owner, "cursor", "deny", "all")
    with pytest.raises(errors.AccessDenied):
        ops.delete_rule(cursor, rule.id)
    with pytest.raises(errors.AccessDenied):
        ops.check_caller(cursor, write=True)
    ops.check_caller(cursor)  # reading is refused per memory, not here
    assert [r.id for r in ops.list_rules(owner)] == [rule.id]


def test_an_app_cannot_change_pause_state_or_rules(world):
    owner, cursor, ids = world
    rule = ops.add_rule(owner, "cursor", "deny", "memory", ids["work"])
    for call in (
        lambda: ops.set_app_paused(cursor, "cursor", True),
        lambda: ops.set_app_paused(cursor, "claude", True),
        lambda: ops.add_rule(cursor, "cursor", "allow"),
        lambda: ops.delete_rule(cursor, rule.id),
    ):
        with pytest.raises(errors.OwnerOnly):
            call()
    assert [r.id for r in ops.list_rules(owner)] == [rule.id] and not ops.get_app(owner, "cursor").paused


def test_access_log_of_a_memory_respects_visibility(world):
    owner, cursor, ids = world
    ops.get(cursor, ids["work"])
    assert [r.op for r in ops.access_log(cursor, memory_id=ids["work"])] == ["get", "search"]
    claude = ops.Context(ns=cursor.ns, embedder=cursor.embedder, settings=cursor.settings, app="claude")
    assert ops.access_log(claude, memory_id=ids["work"]) == []  # another app's reads are not shown
    assert ops.access_log(cursor, app="claude") == []  # asking for another app gives nothing
    with pytest.raises(errors.NotFoundError):
        ops.access_log(cursor, memory_id=ids["old"])  # archived: not visible to apps
    with pytest.raises(errors.NotFoundError):
        ops.access_log(owner, memory_id=str(uuid.uuid4()))
    with pytest.raises(errors.InvalidInput):
        ops.access_log(owner, limit=0)
    with pytest.raises(errors.TooLarge):
        ops.access_log(owner, limit=10_000)
    ops.add_rule(owner, "cursor", "deny", "memory", ids["work"])
    with pytest.raises(errors.NotFoundError):
        ops.access_log(cursor, memory_id=ids["work"])


def test_list_rules_checks_the_app_name(world):
    owner, cursor, ids = world
    with pytest.raises(errors.InvalidAppName):
        ops.list_rules(owner, app="../bob")
    assert ops.list_rules(owner, app="*") == []


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "tomorrow", "2024-13-01"])
def test_out_of_range_times_are_invalid_input(owner, value):
    with pytest.raises(errors.InvalidInput):
        ops.Filters(created_after=value)


def test_readiness(mb):
    assert ops.readiness(mb.store)["status"] == "ready"

    class Down:
        def list(self, *a, **k):
            raise Unavailable("injected")

    with pytest.raises(errors.StoreUnavailable) as info:
        ops.readiness(Down())
    assert info.value.status == 503


def test_public_config_masks_secrets():
    s = Settings(store="s3://bucket/prefix", endpoint_url="https://minio:s3cr3t@minio.local:9000/?X-Sig=abc")
    cfg = public_config(s)
    assert "s3cr3t" not in str(cfg) and "abc" not in str(cfg)
    assert cfg["endpoint_url"] == "https://minio:***@minio.local:9000/?***" and cfg["store"] == "s3://bucket/prefix"
    assert cfg["max_text_chars"] == 16_000
    assert mask_url("https://user@host/x") == "https://***@host/x"
    assert mask_url("./relative/path") == "./relative/path"


def test_metadata_depth_is_limited(owner):
    from membucket.ops.validate import _depth, clean_metadata

    assert [_depth(v) for v in (1, {}, [], {"a": [1]}, {"a": [{"b": {}}]})] == [0, 1, 1, 2, 4]
    deep = {"a": 1}
    for _ in range(owner.settings.max_metadata_depth - 1):
        deep = {"a": deep}
    assert clean_metadata(deep, owner.settings) is deep
    with pytest.raises(errors.InvalidMetadata) as info:
        ops.add(owner, "too deep", metadata={"x": deep})
    assert info.value.details["limit"] == owner.settings.max_metadata_depth
    assert ops.list_memories(owner).total == 0


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", ["app", "text", "state", "created_at", "updated_at"])
def test_cursor_walks_every_memory_once_for_every_sort(mb, sort, order):
    owner = mb.context("alice")
    apps = [None, "cursor", "claude"]
    for i in range(11):
        ctx = owner if apps[i % 3] is None else mb.context("alice", app=apps[i % 3])
        ops.add(ctx, f"memory number {i} about topic {i * 7 % 5}")
    seen, cursor = [], None
    while True:
        page = ops.list_memories(owner, sort=sort, order=order, size=2, cursor=cursor)
        seen += [m.id for m in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    by_page = [m.id for m in ops.list_memories(owner, sort=sort, order=order, size=100).items]
    assert seen == by_page and len(set(seen)) == 11


def _cursor(doc) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


@pytest.mark.parametrize("doc", [
    {"s": "state", "v": [1, 2], "id": str(uuid.uuid4())},
    {"s": "text", "v": {"a": 1}, "id": str(uuid.uuid4())},
    {"s": "text", "v": None, "id": str(uuid.uuid4())},  # only app is nullable
    {"s": "created_at", "v": 12, "id": str(uuid.uuid4())},
    {"s": "created_at", "v": "9999-12-31T23:59:59-14:00", "id": str(uuid.uuid4())},
    {"s": "app", "v": "x", "id": "'; DROP TABLE memories; --"},
    {"s": "app", "v": "x"},
    [1, 2, 3],
    "just a string",
])
def test_forged_cursors_are_invalid_input(owner, doc):
    ops.add(owner, "something")
    sort = doc["s"] if isinstance(doc, dict) else "created_at"
    with pytest.raises(errors.InvalidInput):
        ops.list_memories(owner, sort=sort, cursor=_cursor(doc))
    with pytest.raises(errors.InvalidInput):
        ops.list_memories(owner, cursor="%%%not base64%%%")
