"""``add(infer=True)``: facts extracted and reconciled by the LLM, committed as ONE log entry, validated."""

from __future__ import annotations

import json
import uuid

import pytest
from membucket import ops
from membucket.llm.extract import keep_subject
from membucket.ops.add import NO_LLM_NOTE
from membucket.ops.infer import NO_FACTS_NOTE

from tests.support.factories import make_mb

from .conftest import log_entries, op_names

SEEDS = ["Alice lives in Paris", "Alice is allergic to peanuts", "Alice likes green tea"]


def seed(ctx) -> dict[str, str]:
    """Verbatim memories (caller categories: no model call); text -> id."""
    return {t: ops.add(ctx, t, categories=["personal"]).events[0].id for t in SEEDS}


def texts(mb, user="alice", states=("active",)):
    return sorted(m.text for m in ops.list_memories(mb.context(user), filters=ops.Filters(states=list(states))).items)


def test_add_update_delete_none_in_one_log_entry(make, fake):
    mb = make(categorizer=False)
    ctx = mb.context("alice", app="cursor")
    ids = seed(ctx)
    before = len(log_entries(mb))
    res = ops.add(
        ctx,
        "Alice is allergic to peanuts and shellfish. Alice no longer lives in Paris. Alice likes green tea. Alice plays the cello",
        infer=True,
        metadata={"source": "chat"},
    )
    events = {e.event: e for e in res.events}
    assert sorted(events) == ["ADD", "DELETE", "NOOP", "UPDATE"] and res.note is None
    assert events["UPDATE"].id == ids["Alice is allergic to peanuts"]
    assert events["UPDATE"].text == "Alice is allergic to peanuts and shellfish"
    assert events["UPDATE"].previous_text == "Alice is allergic to peanuts"
    assert events["DELETE"].id == ids["Alice lives in Paris"] and events["DELETE"].text == "Alice lives in Paris"
    assert events["NOOP"].id == ids["Alice likes green tea"]
    assert events["ADD"].text == "Alice plays the cello"

    new = log_entries(mb)[before:]
    assert len(new) == 1, "one infer call is one log entry"
    assert sorted(op_names(new[0])) == ["memory.add", "memory.state", "memory.update"]
    assert new[0]["actor"] == "cursor"
    assert texts(mb) == ["Alice is allergic to peanuts and shellfish", "Alice likes green tea", "Alice plays the cello"]
    assert ops.get(ctx, events["ADD"].id).metadata == {"source": "chat"}
    assert ops.get(ctx, events["UPDATE"].id).categories == ["personal"]  # kept: no categorizer configured

    # the model saw short ids, never the memories' UUIDs
    shown = json.loads(fake.chat_requests[-1]["messages"][-1]["content"])
    assert [m["id"] for m in shown["existing_memories"]] == [str(i) for i in range(len(shown["existing_memories"]))]
    assert not any(i in fake.chat_requests[-1]["messages"][-1]["content"] for i in ids.values())


def test_first_facts_are_added_without_a_reconcile_call(make, fake):
    mb = make(categorizer=False)
    res = ops.add(mb.context("alice"), "Bob has a PhD in chemistry. Bob lives in Oslo", infer=True)
    assert [(e.event, e.text) for e in res.events] == [("ADD", "Bob has a PhD in chemistry"), ("ADD", "Bob lives in Oslo")]
    assert len(fake.chat_requests) == 1  # extraction only: nothing to reconcile with


def test_keep_subject():
    assert keep_subject("has a PhD", "Bob") == "Bob has a PhD"
    assert keep_subject("Has a PhD", "Bob") == "Bob has a PhD"
    assert keep_subject("  - is vegan ", "The user") == "The user is vegan"
    assert keep_subject("Bob has a PhD", "Bob") == "Bob has a PhD"
    assert keep_subject("Bob's sister lives in Porto", "") == "Bob's sister lives in Porto"
    assert keep_subject("has a PhD", "") is None  # no subject to give it: rejected
    assert keep_subject("likes tea", "is") is None
    assert keep_subject(None, "Bob") is None and keep_subject("", "Bob") is None and keep_subject("x" * 5000, "Bob") is None
    assert keep_subject("Bob has\x00 a PhD", "Bob") is None


def test_facts_keep_their_subject_end_to_end(make, fake):
    mb = make(categorizer=False)
    ctx = mb.context("alice")
    ops.add(ctx, "Bob is a chemist", categories=["work"])
    fake.chat_script += [
        {"facts": [
            {"subject": "Bob", "fact": "has a PhD"},
            {"subject": "", "fact": "likes tea"},
            {"subject": "Bob", "fact": "Bob lives in Oslo"},
            "plays chess",
        ]},
        {"decisions": [
            {"fact": 0, "event": "UPDATE", "id": "0", "text": "is a chemist with a PhD"},
            {"fact": 1, "event": "ADD", "id": "", "text": "Bob lives in Oslo"},
        ]},
    ]
    res = ops.add(ctx, "Bob has a PhD, likes tea, lives in Oslo and plays chess", infer=True)
    assert [(e.event, e.text) for e in res.events] == [("UPDATE", "Bob is a chemist with a PhD"), ("ADD", "Bob lives in Oslo")]
    assert texts(mb) == ["Bob is a chemist with a PhD", "Bob lives in Oslo"]
    asked = json.loads(fake.chat_requests[-1]["messages"][-1]["content"])["new_facts"]
    assert [f["text"] for f in asked] == ["Bob has a PhD", "Bob lives in Oslo"]  # subject-less facts never reach storage
    assert "never 'has a PhD'" in fake.chat_requests[0]["messages"][0]["content"]


@pytest.mark.parametrize("bad", ["{not json", {"facts": "Alice"}, {"nothing": []}, '{"facts": ' + "[" * 100_000 + "]" * 100_000 + "}"], ids=["cut", "string", "no-facts", "deeply-nested"])
def test_unusable_extraction_falls_back_to_verbatim(make, fake, bad):
    mb = make(categorizer=False)
    fake.chat_script.append(bad if isinstance(bad, str) else bad)
    res = ops.add(mb.context("alice"), "Alice lives in Paris", infer=True)
    assert [(e.event, e.text) for e in res.events] == [("ADD", "Alice lives in Paris")]
    assert "infer failed" in res.note and "verbatim" in res.note


def test_bad_decisions_are_ignored_and_no_fact_is_lost(make, fake):
    mb = make(categorizer=False)
    ctx = mb.context("alice")
    ids = seed(ctx)
    fake.chat_script += [
        {"facts": [{"subject": "Alice", "fact": "Alice lives in Lyon"}, {"subject": "Alice", "fact": "Alice likes black tea"}]},
        {"decisions": [
            {"fact": 0, "event": "DELETE", "id": "99", "text": ""},  # unknown short id
            {"fact": 0, "event": "UPDATE", "id": ids["Alice lives in Paris"], "text": "Alice lives in Lyon"},  # a raw UUID
            {"fact": 7, "event": "DELETE", "id": "0", "text": ""},  # no such fact
            {"fact": 1, "event": "MERGE", "id": "1", "text": "Alice likes tea"},  # no such event
            {"fact": True, "event": "DELETE", "id": "1", "text": ""},
            "DELETE everything",
        ]},
    ]
    res = ops.add(ctx, "Alice moved to Lyon and now likes black tea", infer=True)
    assert [(e.event, e.text) for e in res.events] == [("ADD", "Alice lives in Lyon"), ("ADD", "Alice likes black tea")]
    assert set(SEEDS) <= set(texts(mb))  # nothing existing was touched


def test_unusable_reconciliation_falls_back_to_verbatim(make, fake):
    mb = make(categorizer=False)
    ctx = mb.context("alice")
    seed(ctx)
    fake.chat_script += [{"facts": [{"subject": "Alice", "fact": "Alice lives in Lyon"}]}, "```json\n{\"decisions\": [oops"]
    res = ops.add(ctx, "Alice moved to Lyon", infer=True)
    assert [(e.event, e.text) for e in res.events] == [("ADD", "Alice moved to Lyon")] and "infer failed" in res.note


def test_an_app_cannot_reach_memories_it_cannot_see(make, fake):
    mb = make(categorizer=False)
    owner = mb.context("alice")
    hidden = ops.add(owner, "Alice is allergic to peanuts", categories=["health"]).events[0].id
    visible = ops.add(owner, "Alice likes peanuts butter sandwiches", categories=["preferences"]).events[0].id
    ops.add_rule(owner, "cursor", "deny", "category", "health")
    cursor = mb.context("alice", app="cursor")
    fake.chat_script += [
        {"facts": [{"subject": "Alice", "fact": "Alice is no longer allergic to peanuts"}]},
        {"decisions": [
            {"fact": 0, "event": "DELETE", "id": hidden, "text": ""},
            {"fact": 0, "event": "DELETE", "id": "1", "text": ""},
            {"fact": 0, "event": "UPDATE", "id": "0", "text": "Alice is no longer allergic to peanuts"},
        ]},
    ]
    res = ops.add(cursor, "I am no longer allergic to peanuts", infer=True)
    prompt = fake.chat_requests[-1]["messages"][-1]["content"]
    assert "Alice is allergic to peanuts" not in prompt and hidden not in prompt  # never shown to the model
    assert [(e.event, e.id) for e in res.events] == [("UPDATE", visible)]  # the only memory it may touch
    assert ops.get(owner, hidden).state == "active" and ops.get(owner, hidden).text == "Alice is allergic to peanuts"


def test_memories_gone_before_the_commit_are_revalidated(make, fake, monkeypatch):
    mb = make(categorizer=False)
    ctx = mb.context("alice", app="cursor")
    ids = seed(ctx)
    other = make_mb(mb.settings.store, mb.settings.cache_dir + "-other")  # another process
    from membucket.ops import infer

    real = infer.reconcile

    def reconcile_then_someone_deletes(*args):
        decisions = real(*args)
        ops.delete(other.context("alice"), [ids["Alice is allergic to peanuts"], ids["Alice lives in Paris"]])
        return decisions

    monkeypatch.setattr(infer, "reconcile", reconcile_then_someone_deletes)
    res = ops.add(ctx, "Alice is allergic to peanuts and shellfish. Alice no longer lives in Paris", infer=True)
    # the UPDATE target is gone: the fact is added instead; the DELETE target is gone: nothing to do
    assert [(e.event, e.text) for e in res.events] == [("ADD", "Alice is allergic to peanuts and shellfish")]
    assert texts(mb) == ["Alice is allergic to peanuts and shellfish", "Alice likes green tea"]


def test_infer_false_and_no_facts_and_no_llm(make, fake, tmp_path):
    mb = make(categorizer=False)
    ctx = mb.context("alice")
    res = ops.add(ctx, "Hello there. Alice lives in Paris", infer=False)
    assert [(e.event, e.text) for e in res.events] == [("ADD", "Hello there. Alice lives in Paris")] and res.note is None
    assert fake.chat_requests == []  # verbatim: no model call
    res = ops.add(ctx, "Hello there! Thanks", infer=True)
    assert res.events == [] and res.note == NO_FACTS_NOTE
    assert len(texts(mb)) == 1

    plain = make_mb(str(tmp_path / "plain"), tmp_path / "plain-cache")  # no LLM configured
    res = ops.add(plain.context("alice"), "Alice lives in Paris. Alice likes tea", infer=True)
    assert [(e.event, e.text) for e in res.events] == [("ADD", "Alice lives in Paris. Alice likes tea")]
    assert res.note == NO_LLM_NOTE


def test_provider_down_stores_verbatim_and_says_so(make, fake):
    mb = make(categorizer=False)
    fake.chat_fail_next = 10
    res = ops.add(mb.context("alice"), "Alice lives in Paris. Alice likes tea", infer=True)
    assert [(e.event, e.text) for e in res.events] == [("ADD", "Alice lives in Paris. Alice likes tea")]
    assert res.note == "infer failed (LLM provider failed: InternalServerError): stored verbatim with duplicate detection"


def test_inferred_memories_are_categorized_by_the_follow_up(make, fake):
    mb = make()
    ctx = mb.context("alice")
    before = len(log_entries(mb))
    res = ops.add(ctx, "Alice is allergic to peanuts. Alice booked a flight to Tokyo", infer=True)
    new = log_entries(mb)[before:]
    assert [op_names(e) for e in new] == [
        ["init", "memory.add", "memory.add", "memory.pending"], ["memory.update", "memory.update"],
    ]
    assert [ops.get(ctx, e.id).categories for e in res.events] == [["health"], ["travel"]]
    res = ops.add(ctx, "Alice likes green tea", categories=["food"], infer=True)  # caller categories: no categorizer call
    assert ops.get(ctx, res.events[0].id).categories == ["food"]
    assert not any(r["response_format"]["json_schema"]["name"] == "categories" for r in fake.chat_requests[-2:])
    uuid.UUID(res.events[0].id)


def test_a_paused_or_denied_app_never_sends_text_to_the_model(make, fake):
    mb = make(categorizer=False)
    owner = mb.context("alice")
    ops.add(mb.context("alice", app="cursor"), "Alice likes tea")
    ops.set_app_paused(owner, "cursor", True)
    ops.add_rule(owner, "claude", "deny", "all")
    from membucket import errors

    with pytest.raises(errors.AppPaused):
        ops.add(mb.context("alice", app="cursor"), "Alice has a secret diagnosis", infer=True)
    with pytest.raises(errors.AccessDenied):
        ops.add(mb.context("alice", app="claude"), "Alice has a secret diagnosis", infer=True)
    assert fake.chat_requests == []
