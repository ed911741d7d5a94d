"""Security rules, each attacked: paused apps, deny rules, allow lists, user isolation."""

import pytest
from membucket import errors, ops


@pytest.fixture
def world(mb):
    owner = mb.context("alice")
    cursor = mb.context("alice", app="cursor")
    ids = {
        "health": ops.add(owner, "Alice takes insulin daily", categories=["health"]).events[0].id,
        "work": ops.add(owner, "Alice leads the payments team", categories=["work"]).events[0].id,
        "misc": ops.add(owner, "Alice bought a red bicycle").events[0].id,
    }
    ops.search(cursor, "alice")  # first use creates the app
    return mb, owner, cursor, ids


def visible(ctx):
    """Every way an app can read memories; all must agree."""
    found = {h.id for h in ops.search(ctx, "alice insulin payments bicycle", limit=50)}
    listed = {m.id for m in ops.list_memories(ctx).items}
    assert found == listed
    return found


def test_paused_app_can_neither_read_nor_write(world):
    mb, owner, cursor, ids = world
    ops.set_app_paused(owner, "cursor", True)
    for call in (
        lambda: ops.search(cursor, "alice"),
        lambda: ops.list_memories(cursor),
        lambda: ops.get(cursor, ids["misc"]),
        lambda: ops.add(cursor, "new memory"),
        lambda: ops.update(cursor, ids["misc"], text="changed"),
        lambda: ops.change_state(cursor, [ids["misc"]], "paused"),
        lambda: ops.delete_all(cursor),
        lambda: ops.related(cursor, ids["misc"]),
        lambda: ops.history(cursor, ids["misc"]),
    ):
        with pytest.raises(errors.AppPaused) as info:
            call()
        assert info.value.status == 403
    assert ops.list_memories(owner).total == 3  # nothing written, nothing deleted
    ops.set_app_paused(owner, "cursor", False)
    assert visible(cursor) == set(ids.values())


def test_deny_all_fails_closed(world):
    mb, owner, cursor, ids = world
    ops.add_rule(owner, "cursor", "deny", "all")
    assert visible(cursor) == set()
    with pytest.raises(errors.NotFoundError):
        ops.get(cursor, ids["misc"])
    with pytest.raises(errors.AccessDenied):
        ops.add(cursor, "sneaky write")
    with pytest.raises(errors.AccessDenied):
        ops.delete_all(cursor)
    assert ops.list_memories(owner).total == 3


def test_deny_one_memory_and_one_category(world):
    mb, owner, cursor, ids = world
    ops.add_rule(owner, "cursor", "deny", "memory", ids["misc"])
    ops.add_rule(owner, "cursor", "deny", "category", "health")
    assert visible(cursor) == {ids["work"]}
    for mid in (ids["misc"], ids["health"]):
        with pytest.raises(errors.NotFoundError):
            ops.get(cursor, mid)
        with pytest.raises(errors.NotFoundError):
            ops.change_state(cursor, [mid], "deleted")
        with pytest.raises(errors.NotFoundError):
            ops.related(cursor, mid)
    # a denied memory cannot be reached through related() of a visible one either
    assert ids["misc"] not in {h.id for h in ops.related(cursor, ids["work"], limit=10)}
    # nor through delete_all
    ops.delete_all(cursor)
    assert {m.id for m in ops.list_memories(owner).items} == {ids["misc"], ids["health"]}


def test_near_duplicate_of_a_hidden_memory_is_not_touched(world):
    mb, owner, cursor, ids = world
    ops.add_rule(owner, "cursor", "deny", "category", "health")
    ev = ops.add(cursor, "Alice takes insulin daily").events[0]
    assert ev.event == "ADD" and ev.id != ids["health"]
    assert ops.get(owner, ids["health"]).text == "Alice takes insulin daily"


def test_allow_list_mode_and_deny_wins(world):
    mb, owner, cursor, ids = world
    ops.add_rule(owner, "cursor", "allow", "category", "work")
    assert visible(cursor) == {ids["work"]}
    ops.add_rule(owner, "cursor", "allow", "memory", ids["misc"])
    assert visible(cursor) == {ids["work"], ids["misc"]}
    ops.add_rule(owner, "cursor", "deny", "memory", ids["work"])
    assert visible(cursor) == {ids["misc"]}


def test_rules_for_every_app(world):
    mb, owner, cursor, ids = world
    rule = ops.add_rule(owner, "*", "deny", "category", "health")
    claude = mb.context("alice", app="claude")
    assert ids["health"] not in visible(claude) and ids["health"] not in visible(cursor)
    ops.delete_rule(owner, rule.id)
    assert ids["health"] in visible(claude)
    with pytest.raises(errors.NotFoundError):
        ops.delete_rule(owner, rule.id)


def test_apps_see_only_active(world):
    mb, owner, cursor, ids = world
    ops.change_state(owner, [ids["misc"]], "archived")
    assert ids["misc"] not in visible(cursor)
    assert ops.list_memories(cursor, filters=ops.Filters(states=["archived"])).total == 0
    with pytest.raises(errors.NotFoundError):
        ops.get(cursor, ids["misc"])


def test_users_are_isolated(mb):
    alice = mb.context("alice", app="cursor")
    bob = mb.context("bob", app="cursor")
    aid = ops.add(alice, "Alice's secret: the safe code is 1234").events[0].id
    assert ops.search(bob, "safe code") == []
    assert ops.list_memories(bob).total == 0
    with pytest.raises(errors.NotFoundError):
        ops.get(bob, aid)
    with pytest.raises(errors.NotFoundError):
        ops.delete(bob, [aid])
    assert ops.delete_all(bob).changed == []
    assert ops.get(alice, aid).state == "active"


@pytest.mark.parametrize("user", ["../alice", "alice/../bob", "a/b", "", "x" * 200, "..", "al\x00ice", " alice"])
def test_path_like_user_ids_are_refused(mb, user):
    with pytest.raises(errors.InvalidUserId):
        ops.add(mb.context(user), "x")


@pytest.mark.parametrize("app", ["../x", "a/b", "", "x" * 100, "tab\tname"])
def test_bad_app_names_are_refused(mb, app):
    with pytest.raises(errors.InvalidAppName):
        mb.context("alice", app=app)


def test_access_log_records_reads(world):
    mb, owner, cursor, ids = world
    ops.search(cursor, "insulin", limit=1)
    ops.get(cursor, ids["work"])
    log = ops.access_log(owner, app="cursor")
    assert {(r.op, r.memory_id) for r in log} >= {("search", ids["health"]), ("get", ids["work"])}
    assert any(r.query == "insulin" and r.score is not None for r in log)
    work = ops.access_log(owner, memory_id=ids["work"])
    assert [r.op for r in work] == ["get", "search"] and {r.memory_id for r in work} == {ids["work"]}  # newest first
    # owner reads are not logged as an app's
    before = len(ops.access_log(owner))
    ops.get(owner, ids["misc"])
    ops.search(owner, "bicycle")
    assert len(ops.access_log(owner)) == before
