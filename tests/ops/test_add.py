import pytest
from membucket import errors, ops


def seq(ctx):
    with ctx.ns.read() as rep:
        return rep.seq


def test_add_then_exact_duplicate_is_noop(cursor_app):
    first = ops.add(cursor_app, "Alice likes green tea").events[0]
    assert first.event == "ADD"
    again = ops.add(cursor_app, "  alice   LIKES green tea ").events[0]
    assert again.event == "NOOP" and again.id == first.id
    assert ops.list_memories(cursor_app).total == 1


def test_near_duplicate_updates_when_the_operator_merges(mb):
    ctx = mb.context("alice", app="cursor")
    mb.settings.near_duplicate_threshold = 0.8
    mb.settings.merge_near_duplicates = True
    first = ops.add(ctx, "Alice works at the Berlin office of Acme", metadata={"a": 1}).events[0]
    second = ops.add(ctx, "Alice works at the Berlin office of Acme now", metadata={"b": 2}).events[0]
    assert second.event == "UPDATE" and second.id == first.id
    assert second.previous_text == "Alice works at the Berlin office of Acme"
    mem = ops.get(mb.context("alice"), first.id)
    assert mem.text.endswith("now") and mem.metadata == {"a": 1, "b": 2}
    assert [h.event for h in ops.history(mb.context("alice"), first.id)] == ["add", "update"]


PAIRS = [
    ("My flight to Berlin is on March 3", "My flight to Berlin is on March 4"),
    ("My bank card PIN is 4921", "My bank card PIN is 4922"),
    ("My flight number is AF1234", "My flight number is AF1235"),
    ("Alice is allergic to penicillin", "Alice is not allergic to penicillin"),
    ("Alice has 2 cats", "Alice has 3 cats"),
    ("The team meeting is on Monday", "The team meeting is on Tuesday"),
]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_a_near_duplicate_is_added_beside_and_named(mb, first, second):
    """Without an LLM no fact replaces another: both stay searchable, and the add names the similar one."""
    ctx = mb.context("alice", app="cursor")
    mb.settings.near_duplicate_threshold = 0.3  # the hash test embedder: make every pair "near"
    a = ops.add(ctx, first).events[0]
    b = ops.add(ctx, second).events[0]
    assert a.event == "ADD" and a.similar is None
    assert b.event == "ADD" and b.id != a.id and b.similar == [a.id]
    assert {m.text for m in ops.list_memories(ctx).items} == {first, second}
    for text in (first, second):
        assert text in [h.text for h in ops.search(ctx, text, limit=5)]
    assert ops.add(ctx, first.upper() + "  ").events[0].event == "NOOP"  # equal after the fold: still one


def test_no_dedupe_always_adds(owner):
    ops.add(owner, "same text")
    assert ops.add(owner, "same text", dedupe=False).events[0].event == "ADD"
    assert ops.list_memories(owner).total == 2


def test_infer_without_llm_is_verbatim_and_says_so(owner):
    res = ops.add(owner, "Bob has a PhD in physics", infer=True)
    assert res.events[0].event == "ADD" and "no LLM" in res.note
    assert ops.get(owner, res.events[0].id).text == "Bob has a PhD in physics"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"text": ""}, errors.EmptyText),
        ({"text": "   \n "}, errors.EmptyText),
        ({"text": "x" * 16_001}, errors.TooLarge),
        ({"text": 42}, errors.InvalidInput),
        ({"text": "ok", "metadata": "not json"}, errors.InvalidMetadata),
        ({"text": "ok", "metadata": [1, 2]}, errors.InvalidMetadata),
        ({"text": "ok", "metadata": {"big": "y" * 20_000}}, errors.TooLarge),
        ({"text": "ok", "categories": ["bad\ncat"]}, errors.InvalidInput),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(owner, kwargs, error):
    ops.add(owner, "baseline")
    before = seq(owner)
    with pytest.raises(error) as info:
        ops.add(owner, **kwargs)
    assert 400 <= info.value.status < 500 and info.value.code
    assert seq(owner) == before


def test_text_limit_is_a_setting(mb):
    mb.settings.max_text_chars = 10
    with pytest.raises(errors.TooLarge, match="MEMBUCKET_MAX_TEXT_CHARS"):
        ops.add(mb.context("alice"), "eleven chars")


def test_first_use_creates_the_app(cursor_app, owner):
    ops.add(cursor_app, "hello")
    assert [a.name for a in ops.list_apps(owner)] == ["cursor"]
    assert ops.get_app(owner, "cursor").memories == 1


def test_add_batch_is_one_commit(owner):
    before = seq(owner)
    ids = ops.add_batch(owner, [ops.NewMemory(text=f"fact number {i}") for i in range(50)])
    assert len(set(ids)) == 50 and seq(owner) == before + 1
    assert ops.list_memories(owner).total == 50


def test_embedder_mismatch_is_refused(mb, tmp_path):
    from tests.support.embedders import HashEmbedder
    from tests.support.factories import make_mb

    ops.add(mb.context("alice"), "written with the 64-d model")
    other = make_mb(mb.settings.store, tmp_path / "cache2", embedder=HashEmbedder(dim=32, id="test/hash-32"))
    with pytest.raises(errors.EmbedderMismatch) as info:
        ops.add(other.context("alice"), "another model")
    assert info.value.status == 409
    with pytest.raises(errors.EmbedderMismatch):
        ops.search(other.context("alice"), "model")


def test_an_app_never_learns_a_paused_memory_through_a_duplicate(mb):
    """Apps see active memories only: adding the text of a paused one must not answer NOOP with
    its id (that would reveal it); the owner still gets the NOOP."""
    from membucket import ops

    owner = mb.context("alice")
    cursor = mb.context("alice", app="cursor")
    hidden = ops.add(owner, "Alice is seeing a therapist on Mondays").events[0].id
    ops.change_state(owner, [hidden], "paused")
    event = ops.add(cursor, "Alice is seeing a therapist on Mondays").events[0]
    assert event.event == "ADD" and event.id != hidden
    assert ops.add(owner, "Alice is seeing a therapist on Mondays").events[0].event == "NOOP"
