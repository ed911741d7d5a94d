"""LLM categories: the write commits first, a follow-up commit fills them; failures never fail the write."""

from __future__ import annotations

import pytest
from membucket import errors, maintenance, ops
from membucket.ops.pending import FOLLOW_UP, fill_categories, pending_ids

from tests.support.factories import make_mb

from .conftest import log_entries, op_names


def test_add_commits_then_a_follow_up_entry_fills_categories(make, fake):
    mb = make()
    ctx = mb.context("alice", app="cursor")
    before = len(log_entries(mb))
    mid = ops.add(ctx, "Alice is allergic to peanuts").events[0].id
    entries = log_entries(mb)[before:]
    assert [op_names(e) for e in entries] == [["init", "app.upsert", "memory.add", "memory.pending"], ["memory.update"]]
    assert entries[0]["ops"][2]["categories"] == []
    assert entries[1]["ops"][0] == {"op": "memory.update", "id": mid, "categories": ["health"]}
    assert ops.get(ctx, mid).categories == ["health"] and pending_ids(ctx) == []
    assert len(fake.chat_requests) == 1


def test_caller_categories_win_without_a_model_call(make, fake):
    mb = make()
    ctx = mb.context("alice", app="cursor")
    mid = ops.add(ctx, "Alice is allergic to peanuts", categories=["Allergies"]).events[0].id
    assert ops.get(ctx, mid).categories == ["allergies"]
    assert fake.chat_requests == [] and "memory.pending" not in op_names(log_entries(mb)[-1])


def test_only_new_text_is_categorized(make, fake):
    mb = make()
    owner = mb.context("alice")
    mid = ops.add(owner, "Alice is allergic to peanuts").events[0].id
    assert len(fake.chat_requests) == 1
    for state in ("paused", "active", "archived", "active"):
        ops.change_state(owner, [mid], state)
    ops.update(owner, mid, metadata={"source": "chat"})
    ops.update(owner, mid, categories=["health", "food"])
    assert len(fake.chat_requests) == 1  # state changes and metadata/category edits never call the model
    assert ops.get(owner, mid).categories == ["health", "food"]
    ops.update(owner, mid, text="Alice booked a flight to Tokyo")
    assert len(fake.chat_requests) == 2 and ops.get(owner, mid).categories == ["travel"]
    ops.add(owner, "Alice is allergic to peanuts")  # new text again (the memory now says Tokyo)
    assert len(fake.chat_requests) == 3
    ops.add(owner, "Alice is allergic to peanuts")  # exact duplicate: NOOP, nothing to categorize
    assert len(fake.chat_requests) == 3


def test_failures_leave_the_memory_uncategorized_and_maintenance_fills_it(make, fake):
    mb = make(llm_timeout_seconds=0.5)
    ctx = mb.context("alice", app="cursor")
    fake.chat_fail_next = 1
    first = ops.add(ctx, "Alice is allergic to peanuts")
    fake.chat_delay = 2.0
    second = ops.add(ctx, "Alice booked a flight to Tokyo")
    assert [e.event for e in first.events + second.events] == ["ADD", "ADD"]  # the writes succeeded
    ids = [first.events[0].id, second.events[0].id]
    assert [ops.get(ctx, i).categories for i in ids] == [[], []]
    assert sorted(pending_ids(ctx)) == sorted(ids)
    fake.chat_delay = 0.0  # the server recovers
    report = maintenance.run(mb, ["categorize"])["categorize"]
    assert report["categorized"] == 2 and report["failed"] == 0
    assert [ops.get(ctx, i).categories for i in ids] == [["health"], ["travel"]]
    calls = len(fake.chat_requests)
    assert maintenance.run(mb, ["categorize"])["categorize"]["categorized"] == 0
    assert len(fake.chat_requests) == calls  # nothing left to do: no model call


def test_maintenance_stops_while_the_model_still_fails(make, fake):
    mb = make()
    ctx = mb.context("alice")
    fake.chat_fail_next = 100
    mid = ops.add(ctx, "Alice is allergic to peanuts").events[0].id
    report = maintenance.run(mb, ["categorize"])["categorize"]
    assert report["categorized"] == 0 and report["failed"] == 1 and pending_ids(ctx) == [mid]


def test_background_follow_up(make, fake):
    mb = make(categorize_async=True)
    ctx = mb.context("alice", app="cursor")
    mid = ops.add(ctx, "Alice is allergic to peanuts").events[0].id
    FOLLOW_UP.flush()
    assert ops.get(ctx, mid).categories == ["health"] and pending_ids(ctx) == []


def test_a_follow_up_never_overwrites_a_newer_edit(make, fake):
    mb = make()
    owner = mb.context("alice")
    fake.chat_fail_next = 1
    mid = ops.add(owner, "Alice is allergic to peanuts").events[0].id
    ops.update(owner, mid, categories=["food"])  # the user filed it meanwhile: no longer pending
    assert pending_ids(owner) == []
    assert maintenance.run(mb, ["categorize"])["categorize"]["categorized"] == 0
    assert ops.get(owner, mid).categories == ["food"]

    fake.chat_fail_next = 1
    other = ops.add(owner, "Alice booked a flight to Tokyo").events[0].id
    editor = make_mb(mb.settings.store, mb.settings.cache_dir + "-editor")  # another process, no categorizer
    real = mb.categorizer

    def slow_categorizer(text, vector):  # the text changes while the model is thinking
        ops.update(editor.context("alice"), other, text="Alice booked a train to Lyon")
        return real(text, vector)

    owner.categorizer = slow_categorizer
    report = fill_categories(owner, [other])
    assert report.categorized == [] and report.skipped == [other]
    assert ops.get(owner, other).categories == [] and pending_ids(owner) == [other]  # the new text still waits


def test_a_follow_up_racing_a_delete_or_pause_never_resurrects(make, fake):
    mb = make()
    owner = mb.context("alice")
    fake.chat_fail_next = 2
    gone = ops.add(owner, "Alice is allergic to peanuts").events[0].id
    paused = ops.add(owner, "Alice leads the payments team at work").events[0].id
    editor = make_mb(mb.settings.store, mb.settings.cache_dir + "-editor")  # another process
    real = mb.categorizer

    def slow_categorizer(text, vector):  # the user acts while the model is thinking
        if "peanuts" in text:
            ops.delete(editor.context("alice"), [gone])
        else:
            ops.change_state(editor.context("alice"), [paused], "paused")
        return real(text, vector)

    owner.categorizer = slow_categorizer
    report = fill_categories(owner, [gone, paused])
    assert report.categorized == [paused] and report.skipped == [gone]
    assert ops.get(owner, gone).state == "deleted" and ops.get(owner, gone).categories == []
    assert (ops.get(owner, paused).state, ops.get(owner, paused).categories) == ("paused", ["work"])
    assert pending_ids(owner) == []


def test_apps_denied_a_category_do_not_see_uncategorized_memories(make, fake):
    mb = make()
    owner = mb.context("alice")
    cursor = mb.context("alice", app="cursor")
    ops.add_rule(owner, "cursor", "deny", "category", "health")
    fake.chat_fail_next = 2
    health = ops.add(owner, "Alice is allergic to peanuts").events[0].id
    work = ops.add(owner, "Alice leads the payments team at work").events[0].id
    assert sorted(pending_ids(owner)) == sorted([health, work])
    assert ops.search(cursor, "Alice") == [] and ops.list_memories(cursor).total == 0  # not filed yet: hidden
    for call in (lambda: ops.get(cursor, work), lambda: ops.history(cursor, work), lambda: ops.delete(cursor, [work])):
        with pytest.raises(errors.NotFoundError):
            call()  # even by id
    maintenance.run(mb, ["categorize"])
    assert [h.id for h in ops.search(cursor, "Alice")] == [work]  # health stays hidden, work shows once filed
    assert ops.get(cursor, work).categories == ["work"]
    assert ops.list_memories(owner).total == 2


def test_maintenance_without_a_categorizer_says_so(tmp_path):
    mb = make_mb(str(tmp_path / "b"), tmp_path / "c")
    ops.add(mb.context("alice"), "Alice is allergic to peanuts")
    assert "skipped" in maintenance.run(mb, ["categorize"])["categorize"]


def test_default_categorizer_is_the_llm_when_one_is_configured(tmp_path, fake):
    """No categorizer passed: MEMBUCKET_CATEGORIZER=auto picks the LLM one (deferred, follow-up entry)."""
    from membucket import Membucket, Settings
    from membucket.engine.namespace import ReplicaRegistry

    from tests.support.embedders import HashEmbedder

    from .conftest import llm_settings

    settings = Settings(store=str(tmp_path / "b"), cache_dir=str(tmp_path / "c"), **llm_settings(fake.url))
    mb = Membucket(settings, embedder=HashEmbedder(), registry=ReplicaRegistry())
    ctx = mb.context("alice", app="cursor")
    mid = ops.add(ctx, "Alice is allergic to peanuts").events[0].id
    assert [op_names(e)[-1] for e in log_entries(mb)] == ["memory.pending", "memory.update"]
    assert ops.get(ctx, mid).categories == ["health"] and len(fake.chat_requests) == 1
    # with MEMBUCKET_CATEGORIZER=zeroshot the same settings never call the model for categories
    zs = Membucket(Settings(store=str(tmp_path / "b2"), cache_dir=str(tmp_path / "c2"), categorizer="zeroshot",
                            **llm_settings(fake.url)), embedder=HashEmbedder(), registry=ReplicaRegistry())
    ops.add(zs.context("alice", app="cursor"), "Alice is allergic to peanuts")
    assert len(fake.chat_requests) == 1
