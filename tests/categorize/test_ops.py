"""When categories are computed (text writes only), who wins (the caller), and ``recategorize``."""

from __future__ import annotations

import numpy as np
import pytest
from membucket import errors, ops
from membucket.categorize.zeroshot import ZeroShotCategorizer
from membucket.ops.pending import fill_categories, pending_ids

from tests.support.factories import make_mb


class Recorder:
    """A deterministic categorizer that records what it was asked: first word of the text."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str, vector: np.ndarray) -> list[str]:
        self.calls.append(text)
        return [text.split()[0].lower()]


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def mb(tmp_path, rec):
    return make_mb(str(tmp_path / "bucket"), tmp_path / "cache", categorizer=rec)


def history_len(ctx, mid):
    return len(ops.history(ctx, mid))


def test_add_categorizes_and_caller_categories_win(mb, rec):
    ctx = mb.context("alice")
    mid = ops.add(ctx, "Travel to Oslo in May").events[0].id
    assert ops.get(ctx, mid).categories == ["travel"] and rec.calls == ["Travel to Oslo in May"]
    mid2 = ops.add(ctx, "Budget for the kitchen", categories=["home"]).events[0].id
    assert ops.get(ctx, mid2).categories == ["home"]
    assert len(rec.calls) == 1  # not even asked


def test_state_changes_and_metadata_edits_never_categorize(mb, rec):
    ctx = mb.context("alice")
    mid = ops.add(ctx, "Health check on Monday").events[0].id
    ops.update(ctx, mid, categories=["doctor"])
    rec.calls.clear()
    for state in ("paused", "archived", "active"):
        ops.change_state(ctx, [mid], state)
    ops.update(ctx, mid, metadata={"source": "calendar"})
    ops.update(ctx, mid, text="Health check on Monday")  # same text: nothing to recompute
    assert ops.get(ctx, mid).categories == ["doctor"]
    assert rec.calls == ["Health check on Monday"]  # only the text write asked; its answer was dropped


def test_update_with_new_text_recategorizes_unless_categories_are_given(mb, rec):
    ctx = mb.context("alice")
    mid = ops.add(ctx, "Work on the slides").events[0].id
    assert ops.update(ctx, mid, text="Finance review on Friday").categories == ["finance"]
    assert ops.update(ctx, mid, text="Shopping for shoes", categories=["errands"]).categories == ["errands"]


def test_a_failing_categorizer_never_loses_the_write(tmp_path):
    def broken(text, vector):
        raise RuntimeError("model down")

    mb = make_mb(str(tmp_path / "b"), tmp_path / "c", categorizer=broken)
    ctx = mb.context("alice")
    mid = ops.add(ctx, "still stored").events[0].id
    assert ops.get(ctx, mid).categories == []
    ops.update(ctx, mid, categories=["kept"])
    assert ops.update(ctx, mid, text="new text, old categories").categories == ["kept"]


def test_odd_names_from_a_categorizer_are_dropped_not_refused(tmp_path):
    mb = make_mb(str(tmp_path / "b"), tmp_path / "c", categorizer=lambda t, v: ["ok", "<script>", "", "OK", 7])
    ctx = mb.context("alice")
    assert ops.get(ctx, ops.add(ctx, "anything").events[0].id).categories == ["ok"]


def test_odd_names_are_dropped_when_a_failed_write_is_filled_later(tmp_path):
    """The follow-up (maintenance) treats the answer as the write did: odd names dropped, never
    a memory left pending for ever because one name did not fit."""
    # the write, then its inline follow-up, fail; maintenance's fill gets the odd names
    answers = [RuntimeError("model down"), RuntimeError("still down"), ["ok", "<script>", "OK", 7]]

    def flaky(text, vector):
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    # follow-up inline (as in Lambda): a background one would race this test for the answers
    mb = make_mb(str(tmp_path / "b"), tmp_path / "c", categorizer=flaky, categorize_async=False)
    ctx = mb.context("alice")
    mid = ops.add(ctx, "anything").events[0].id
    assert pending_ids(ctx) == [mid] and len(answers) == 1
    report = fill_categories(ctx)
    assert (report.categorized, report.failed) == ([mid], [])
    assert ops.get(ctx, mid).categories == ["ok"] and pending_ids(ctx) == []


def test_user_defined_category_gets_assigned(tmp_path, minilm):
    mb = make_mb(str(tmp_path / "b"), tmp_path / "c", embedder=minilm, categorizer=ZeroShotCategorizer(minilm))
    ctx = mb.context("alice")
    text = "Repotted the monstera and spread compost on the tomato bed"
    before = ops.add(ctx, text).events[0].id
    assert "gardening" not in ops.get(ctx, before).categories
    ops.define_category(ctx, "Gardening", "plants, repotting, compost, seeds, vegetable beds and garden tools")
    assert [d.name for d in ops.list_category_defs(ctx)] == ["gardening"]
    mid = ops.add(ctx, "Sowed carrot and radish seeds in the vegetable patch").events[0].id
    assert ops.get(ctx, mid).categories[0] == "gardening"
    result = ops.recategorize(ctx, [before])
    assert result.changed_ids == [before] and ops.get(ctx, before).categories[0] == "gardening"
    ops.delete_category(ctx, "gardening")
    assert ops.list_category_defs(ctx) == [] and ops.get(ctx, mid).categories[0] == "gardening"  # memories keep it
    with pytest.raises(errors.NotFoundError):
        ops.delete_category(ctx, "gardening")
    # another process replays the same log to the same definitions
    other = make_mb(str(tmp_path / "b"), tmp_path / "c2", embedder=minilm, categorizer=None).context("alice")
    assert ops.list_category_defs(other) == []


@pytest.mark.parametrize("name, description, error", [
    ("ok", "", errors.InvalidInput),
    ("bad<name>", "fine", errors.InvalidInput),
    ("ok", "x" * 501, errors.TooLarge),
    ("ok", "Notes\x00 with a NUL", errors.InvalidInput),  # as for memory text
])
def test_bad_definitions_are_refused(mb, name, description, error):
    with pytest.raises(error):
        ops.define_category(mb.context("alice"), name, description)
    assert ops.list_category_defs(mb.context("alice")) == []


def test_recategorize_missing_all_and_ids_in_batches(mb, rec):
    ctx = mb.context("alice")
    plain = [ops.add_batch(ctx, [ops.NewMemory(f"Plain{i} memory number {i}")])[0] for i in range(5)]
    given = ops.add(ctx, "Given categories stay with --missing", categories=["mine"]).events[0].id
    seq = ops.stats(ctx)["log"]["seq"]
    result = ops.recategorize(ctx, only_missing=True, batch=2)
    assert (result.scanned, result.changed, result.commits) == (5, 5, 3)
    assert ops.stats(ctx)["log"]["seq"] == seq + 3  # one commit per batch
    assert [ops.get(ctx, m).categories for m in plain] == [[f"plain{i}"] for i in range(5)]
    assert ops.get(ctx, given).categories == ["mine"]
    again = ops.recategorize(ctx, only_missing=True)
    assert again.scanned == 0 and again.commits == 0
    full = ops.recategorize(ctx)
    assert (full.scanned, full.changed, full.unchanged) == (6, 1, 5)
    assert ops.get(ctx, given).categories == ["given"]
    assert all(history_len(ctx, m) == 1 for m in plain)  # category writes are not text edits


def test_recategorize_skips_memories_edited_meanwhile(mb, rec):
    ctx = mb.context("alice")
    a = ops.add(ctx, "Alpha text").events[0].id
    b = ops.add(ctx, "Beta text").events[0].id
    ops.update(ctx, a, categories=["x"])
    ops.update(ctx, b, categories=["y"])

    def progress(done, total):
        if done == 0:  # after the memories were read, before the first batch commits
            ops.update(mb.context("alice"), a, text="Gamma text", categories=["z"])

    result = ops.recategorize(ctx, progress=progress)
    assert (result.changed, result.skipped) == (1, 1)
    assert ops.get(ctx, a).categories == ["z"] and ops.get(ctx, b).categories == ["beta"]


def test_recategorize_never_overwrites_a_categories_edit_made_meanwhile(mb, rec):
    """Same text, new categories from the user while the run went on: the user's edit wins."""
    ctx = mb.context("alice")
    a = ops.add(ctx, "Alpha text", categories=["old"]).events[0].id
    b = ops.add(ctx, "Beta text", categories=["old"]).events[0].id

    def progress(done, total):
        if done == 0:  # after the memories were read, before the first batch commits
            ops.update(mb.context("alice"), a, categories=["chosen by the user"])

    result = ops.recategorize(ctx, progress=progress)
    assert (result.changed, result.skipped, result.changed_ids) == (1, 1, [b])
    assert ops.get(ctx, a).categories == ["chosen by the user"] and ops.get(ctx, b).categories == ["beta"]


def test_a_dotted_capital_i_category_stays_usable(mb):
    """"İ".lower() is "i" + a combining dot, which the name rule refuses: a name accepted on write
    must be accepted again (re-saved, filtered on, named in a rule), so it is folded to "i"."""
    ctx = mb.context("alice")
    mid = ops.add(ctx, "Trip planning", categories=["İstanbul"]).events[0].id
    assert ops.get(ctx, mid).categories == ["istanbul"]
    ops.update(ctx, mid, categories=[*ops.get(ctx, mid).categories, "travel"])
    ops.add_rule(ctx, "cursor", "deny", "category", ops.get(ctx, mid).categories[0])
    ops.define_category(ctx, "İzmir", "The city of Izmir")
    assert [d.name for d in ops.list_category_defs(ctx)] == ["izmir"]


def test_recategorize_bad_input_writes_nothing(mb, rec):
    ctx = mb.context("alice")
    mid = ops.add(ctx, "Something", categories=["keep"]).events[0].id
    with pytest.raises(errors.NotFoundError):
        ops.recategorize(ctx, [mid, "00000000-0000-4000-8000-000000000000"])
    with pytest.raises(errors.InvalidId):
        ops.recategorize(ctx, [mid, "not-an-id"])
    small = make_mb(mb.settings.store, mb.settings.cache_dir, categorizer=rec, max_batch=2).context("alice")
    with pytest.raises(errors.TooLarge):
        ops.recategorize(small, [mid] * 3)
    assert ops.get(ctx, mid).categories == ["keep"]
    off = make_mb(mb.settings.store, mb.settings.cache_dir, categorizer=None).context("alice")
    with pytest.raises(errors.InvalidInput, match="no categorizer"):
        ops.recategorize(off, [mid])


def test_app_recategorizes_only_what_it_sees(mb, rec):
    owner = mb.context("alice")
    seen = ops.add(owner, "Visible memory", categories=["old"]).events[0].id
    hidden = ops.add(owner, "Secret memory", categories=["secret"]).events[0].id
    paused = ops.add(owner, "Paused memory", categories=["old"]).events[0].id
    ops.change_state(owner, [paused], "paused")
    ops.add_rule(owner, "cursor", "deny", "category", "secret")
    app = mb.context("alice", app="cursor")
    result = ops.recategorize(app)
    assert result.changed_ids == [seen]
    assert ops.get(owner, hidden).categories == ["secret"] and ops.get(owner, paused).categories == ["old"]
    for invisible in (hidden, paused):
        with pytest.raises(errors.NotFoundError):
            ops.recategorize(app, [invisible])
    assert ops.get(owner, hidden).categories == ["secret"]


def test_definitions_replay_and_survive_a_checkpoint(tmp_path, rec):
    url = str(tmp_path / "b")
    ctx = make_mb(url, tmp_path / "c1", categorizer=rec).context("alice")
    ops.define_category(ctx, "boats", "sailing, dinghies, harbours")
    ops.define_category(ctx, "boats", "sailing, dinghies, harbours and moorings")  # replaces the description
    ops.define_category(ctx, "kites", "kite flying")
    ops.delete_category(ctx, "kites")
    fresh = make_mb(url, tmp_path / "c2").context("alice")  # replays the log
    assert [(d.name, d.description) for d in ops.list_category_defs(fresh)] == [("boats", "sailing, dinghies, harbours and moorings")]
    make_mb(url, tmp_path / "c3").compact("alice")
    after = make_mb(url, tmp_path / "c4").context("alice")  # loads the checkpoint
    assert ops.stats(after)["log"]["checkpoint_seq"] > 0
    assert [d.name for d in ops.list_category_defs(after)] == ["boats"]


def test_definitions_are_capped(mb, monkeypatch):
    monkeypatch.setattr("membucket.ops.category_defs.MAX_DEFINED", 2)
    ctx = mb.context("alice")
    ops.define_category(ctx, "a", "first")
    ops.define_category(ctx, "b", "second")
    with pytest.raises(errors.TooLarge):
        ops.define_category(ctx, "c", "third")
    ops.define_category(ctx, "a", "first, redescribed")  # replacing one is not adding one
    assert [d.description for d in ops.list_category_defs(ctx)] == ["first, redescribed", "second"]


def test_define_answers_409_when_a_delete_lands_before_the_read_back(tmp_path, monkeypatch):
    """A definition deleted by another writer right after ours commits is a 409, not a 500."""
    from membucket.ops import category_defs

    mb = make_mb(str(tmp_path / "b"), tmp_path / "c")
    owner = mb.context("alice")
    real = category_defs.list_category_defs

    def deleted_meanwhile(ctx):
        category_defs.delete_category(  # another process deletes it
make_mb(str(tmp_path / "b"), tmp_path / "c3").context("alice"), "gardening")
        return real(ctx)

    monkeypatch.setattr(category_defs, "list_category_defs", deleted_meanwhile)
    with pytest.raises(errors.Conflict):
        category_defs.define_category(owner, "gardening", "plants, soil and the garden")


def test_a_write_reads_definitions_without_a_second_store_round_trip(tmp_path, monkeypatch):
    """Categorizing with user definitions uses the replica as it is; only the commit syncs."""
    from membucket.engine.replica import Replica

    class Custom:
        supports_custom = True

        def __call__(self, text, vector, custom=()):
            return [d.name for d in custom]

    mb = make_mb(str(tmp_path / "b"), tmp_path / "c", categorizer=Custom())
    owner = mb.context("alice")
    ops.define_category(owner, "gardening", "plants and soil")
    syncs = []
    real = Replica.sync
    monkeypatch.setattr(Replica, "sync", lambda self, **kw: syncs.append(1) or real(self, **kw))
    mid = ops.add(owner, "Alice repotted her basil").events[0].id
    assert len(syncs) == 1  # the commit's
    assert ops.get(owner, mid).categories == ["gardening"]
