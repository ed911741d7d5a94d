"""With auth off, the web UI switches between the users in the bucket: memories written through
/mcp/<client>/http/alice can be seen there."""

from __future__ import annotations

from membucket import ops
from membucket.http.app import create_app
from membucket.http.serve import build_state

from tests.support.factories import make_mb
from tests.support.live import live_server
from tests.ui.conftest import go
from tests.ui.test_browser import search_texts


def test_auth_off_switches_users(page, tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "cache")
    ops.add(mb.context("default"), "The default user likes mountains")
    ops.add(mb.context("alice", app="inspector"), "Alice keeps bees")
    with live_server(create_app(build_state(mb, "127.0.0.1", auth=False))) as url:
        page.goto(url + "/#/memories")
        page.locator("main[data-page='memories']").wait_for()
        assert search_texts(page) == ["The default user likes mountains"]
        switch = page.get_by_label("Act as user")
        assert switch.locator("option").all_inner_texts() == ["alice", "default"]
        page.evaluate("document.getElementById('main').removeAttribute('data-page')")
        switch.select_option("alice")
        page.locator("main[data-page='memories']").wait_for()
        page.locator("#who strong", has_text="alice").wait_for()
        assert search_texts(page) == ["Alice keeps bees"]
        page.reload()  # the choice lasts for the tab
        page.locator("main[data-page='memories']").wait_for()
        page.locator("#who strong", has_text="alice").wait_for()
        assert search_texts(page) == ["Alice keeps bees"]
        go(page, "#/dashboard")
        go(page, "#/memories")
        assert search_texts(page) == ["Alice keeps bees"]
