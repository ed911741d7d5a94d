"""UI search hides weak matches (score below the cut-off) until asked, and memories say which
surface of the owner's added them: ``web-ui`` from this UI, ``owner`` for those with no app."""

from __future__ import annotations

import pytest
from membucket import ops

from tests.ui.conftest import go, sign_in

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'").expect

RELATED = "Bob keeps honey bees on the roof of his garage"
UNRELATED = ["The train to Leeds leaves at nine", "Invoice 2291 was paid in March", "Carol's piano lesson moved to Friday"]


def _search(page, query: str) -> list[str]:
    page.get_by_label("Search mode").select_option(label="Semantic")
    page.get_by_label("Search memories").fill(query)
    page.locator("#results").evaluate("el => el.setAttribute('aria-busy', 'true')")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#results[aria-busy='false']").wait_for()
    return page.locator("#results tbody td.text").all_inner_texts()


def test_weak_matches_are_hidden_until_asked_for(page, server):
    owner = server.mb.context("bob")
    for text in [RELATED, *UNRELATED]:
        ops.add(owner, text)
    hits = ops.search(owner, "honey bees on the roof", limit=10, mode="dense")
    strong = [h.text for h in hits if h.score >= 0.2]
    weak = [h.text for h in hits if h.score < 0.2]
    assert strong[0] == RELATED and weak, "the fixture needs matches on both sides of the cut-off"
    sign_in(page, server, server.token("bob"))
    go(page, "#/memories")

    assert _search(page, "honey bees on the roof") == strong
    note = page.locator("#weak-matches")
    expect(note).to_contain_text(f"{len(weak)} weaker")
    expect(note).to_contain_text("below 0.20")
    page.get_by_role("button", name="Show weaker matches").click()
    page.locator("#results[aria-busy='false']").wait_for()
    shown = page.locator("#results tbody td.text").all_inner_texts()
    assert shown == strong + weak
    page.get_by_role("button", name="Hide weaker matches").click()
    page.locator("#results[aria-busy='false']").wait_for()
    assert page.locator("#results tbody td.text").all_inner_texts() == strong
    # a new search starts with the cut-off again; nothing strong: says so, offers the rest
    assert [h.score for h in ops.search(owner, "zebra xylophone", mode="dense") if h.score >= 0.2] == []
    assert _search(page, "zebra xylophone") == []
    expect(page.locator("#results")).to_contain_text("No strong match.")
    expect(page.get_by_role("button", name="Show weaker matches")).to_be_visible()


def test_a_memory_added_here_is_labelled_web_ui_and_an_old_one_owner(page, server):
    old = ops.add(server.mb.context("dana"), "Dana was born in Porto").events[0].id  # app null, as older stores hold
    sign_in(page, server, server.token("dana"))
    go(page, "#/memories")
    page.get_by_text("Add a memory").click()
    page.get_by_label("Memory text").fill("Dana's locker code is 4417")
    page.get_by_role("button", name="Add memory").click()
    page.get_by_role("status").filter(has_text="Memory added").wait_for()
    page.locator("#results[aria-busy='false']").wait_for()
    apps = dict(zip(page.locator("#results tbody td.text").all_inner_texts(),
                    page.locator("#results tbody tr td:nth-child(3)").all_inner_texts()))
    assert apps == {"Dana's locker code is 4417": "web-ui", "Dana was born in Porto": "owner"}
    page.get_by_label("App", exact=True).select_option("web-ui")  # the label filters like an app
    page.locator("#results").evaluate("el => el.setAttribute('aria-busy', 'true')")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#results[aria-busy='false']").wait_for()
    assert page.locator("#results tbody td.text").all_inner_texts() == ["Dana's locker code is 4417"]
    go(page, f"#/memories/{old}")
    page.locator("#history").wait_for()
    assert "by owner" in page.locator("#history").inner_text()
    new = next(m.id for m in ops.list_memories(server.mb.context("dana")).items if m.app == "web-ui")
    go(page, f"#/memories/{new}")
    page.locator("#history").wait_for()
    assert "by web-ui" in page.locator("#history").inner_text()
