"""On a memory's page the state button that would change nothing (Resume on an active memory) is disabled."""

from __future__ import annotations

import pytest
from membucket import ops

from tests.ui.conftest import go, sign_in

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'").expect


def test_resume_is_disabled_on_an_active_memory_and_pause_on_a_paused_one(page, server):
    owner = server.mb.context("alice")
    mid = ops.add(owner, "Alice keeps bees on the roof").events[0].id
    sign_in(page, server, server.token("alice"))
    go(page, f"#/memories/{mid}")
    expect(page.get_by_role("button", name="Resume", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Pause", exact=True)).to_be_enabled()
    ops.change_state(owner, [mid], "paused")
    go(page, "#/memories")
    go(page, f"#/memories/{mid}")
    expect(page.get_by_role("button", name="Pause", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Resume", exact=True)).to_be_enabled()
