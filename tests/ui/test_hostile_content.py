"""Hostile content in the UI: stored HTML/JS in everything a user or an app can write shows as text
and never runs, and a crafted link cannot steer the UI's API calls outside the route it names."""

from __future__ import annotations

import pytest

from tests.ui.conftest import go, sign_in

pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")

pytestmark = pytest.mark.timeout(180)

PAYLOAD = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><svg onload="window.__pwned=3">'
# Counts every blocked inline script/handler too: passing must mean nothing was even injected,
# not only that the CSP caught it.
WATCH = """document.addEventListener('securitypolicyviolation', () => { window.__csp = (window.__csp || 0) + 1; });"""
INJECTED = """() => ({pwned: window.__pwned ?? null, csp: window.__csp ?? 0,
    nodes: document.querySelectorAll('main img, main script, main svg:not([role=img]), #who img').length})"""


def test_stored_html_in_texts_metadata_queries_and_labels_is_shown_as_text(page, server):
    owner = server.token("mallory")
    app_token = server.token("mallory", app="cursor", scopes=("write",))
    with server.rest(owner) as rest:
        r = rest.post("/memories", json={"text": f"Note {PAYLOAD}", "metadata": {"html": PAYLOAD}, "categories": ["notes"]})
        assert r.status_code in (200, 201), r.text
        mid = r.json()["results"][0]["id"]
        assert rest.patch(f"/memories/{mid}", json={"text": f"Edited {PAYLOAD}"}).status_code == 200  # history keeps old text
        assert rest.post("/tokens", json={"app": "claude", "scopes": ["read"], "description": PAYLOAD}).status_code in (200, 201)
    with server.rest(app_token) as rest:  # an app's search query lands in the access log the owner reads
        r = rest.post("/memories/search", json={"query": f"Edited {PAYLOAD}", "mode": "lexical"})
        assert r.status_code == 200 and r.json()["items"], r.text
    page.add_init_script(WATCH)
    sign_in(page, server, owner)
    for route in ["#/dashboard", "#/memories", f"#/memories/{mid}", "#/apps", "#/apps/cursor", "#/connect"]:
        go(page, route)
        assert page.evaluate(INJECTED) == {"pwned": None, "csp": 0, "nodes": 0}, route
    go(page, f"#/memories/{mid}")
    assert page.locator("#memory-text").inner_text() == f"Edited {PAYLOAD}"
    assert PAYLOAD in page.locator("#history").inner_text()  # "was: …" shows the old text literally
    assert page.get_by_text('"html":').count() == 1  # metadata as JSON text
    go(page, "#/connect")
    assert PAYLOAD in page.locator("#tokens").inner_text()


def test_a_crafted_memory_link_cannot_reach_other_routes(page, server):
    """``#/memories/..%2Ftokens`` must ask for a memory with that (invalid) id, never GET /api/v1/tokens."""
    token = server.token("trent")
    sign_in(page, server, token)
    paths: list[str] = []
    page.on("request", lambda r: paths.append(r.url.split(server.url, 1)[-1]))
    go(page, "#/memories/..%2Ftokens")
    api_paths = [p for p in paths if p.startswith("/api/")]
    assert api_paths and all(p.startswith("/api/v1/memories/") or p in ("/api/v1/rules", "/api/v1/apps") for p in api_paths), api_paths
    assert "not found" in page.locator("main").inner_text().lower() or "not valid" in page.locator("main").inner_text().lower()


def test_a_malformed_link_shows_an_error_not_a_stuck_page(page, server):
    """``%E0%A4%A`` is not valid percent-encoding: the page must still render (an error), with no script error."""
    sign_in(page, server, server.token("trent"))
    go(page, "#/memories/%E0%A4%A")
    assert page.locator("main .error-text").count() == 1
    go(page, "#/dashboard")  # and the UI still navigates
    assert page.locator("main h1").inner_text() == "Dashboard"


def test_an_app_bound_token_sees_only_its_view_on_every_page(page, server):
    owner = server.token("victor")
    with server.rest(owner) as rest:
        hidden = rest.post("/memories", json={"text": "Victor's hidden diagnosis", "categories": ["health"]}).json()["results"][0]["id"]
        rest.post("/memories", json={"text": "Victor's visible todo", "categories": ["work"]})
        assert rest.post("/rules", json={"app": "cursor", "effect": "deny", "scope": "category", "target": "health"}).status_code in (200, 201)
    sign_in(page, server, server.token("victor", app="cursor", scopes=("read",)))
    for route in ["#/dashboard", "#/memories", f"#/memories/{hidden}", "#/apps", "#/connect", "#/settings", "#/transfer"]:
        go(page, route)
        assert "hidden diagnosis" not in page.locator("main").inner_text(), route
    go(page, "#/memories")
    assert "Victor's visible todo" in page.locator("#results").inner_text()
    go(page, "#/dashboard")
    assert page.locator("#timeline").inner_text().count("Added (1)") == 1  # the hidden add is not counted
