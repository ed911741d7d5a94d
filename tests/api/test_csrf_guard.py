"""CSRF on loopback with auth off: a write that a browser says came from another site is refused even
when the Origin header is missing (Sec-Fetch-Site, or a foreign Referer, tells where it came from);
clients that are not browsers (no such headers) and the UI itself keep working."""

from __future__ import annotations

import httpx
import pytest
from membucket import ops
from membucket.http.app import create_app
from membucket.http.serve import build_state

from tests.support.factories import make_mb
from tests.support.live import live_server


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("csrf")
    mb = make_mb(str(tmp / "bucket"), tmp / "cache")
    with live_server(create_app(build_state(mb, "127.0.0.1", auth=False))) as url:
        yield url, mb


def texts(mb) -> list[str]:
    return sorted(m.text for m in ops.list_memories(mb.context("default")).items)


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"},
    {"Sec-Fetch-Site": "same-site"},  # another port of this host is "same-site"
    {"Referer": "http://evil.example.com/page"},
    {"Referer": "http://127.0.0.1:1/other-app"},
    {"Referer": "not a url ["},
], ids=["sec-fetch-cross-site", "sec-fetch-same-site", "foreign-referer", "other-port-referer", "junk-referer"])
def test_a_cross_site_write_without_origin_is_refused(open_server, headers):
    url, mb = open_server
    before = texts(mb)
    r = httpx.post(f"{url}/api/v1/memories", content=b'{"text": "planted by another site"}',
                   headers={"Content-Type": "application/json", **headers})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed", r.text
    r = httpx.post(f"{url}/mcp", json={}, headers={"Accept": "application/json, text/event-stream", **headers})
    assert r.status_code == 403
    assert texts(mb) == before


def test_non_browser_clients_the_ui_and_links_still_work(open_server):
    url, mb = open_server
    plain = httpx.post(f"{url}/api/v1/memories", json={"text": "from curl"})
    assert plain.status_code in (200, 201), plain.text
    own = httpx.post(f"{url}/api/v1/memories", json={"text": "from the UI"},
                     headers={"Sec-Fetch-Site": "same-origin", "Referer": f"{url}/", "Origin": url})
    assert own.status_code in (200, 201), own.text
    assert {"from curl", "from the UI"} <= set(texts(mb))
    # A link from another site to the UI (a GET navigation) is fine: reads change nothing.
    page = httpx.get(f"{url}/", headers={"Sec-Fetch-Site": "cross-site", "Referer": "http://evil.example.com/"})
    assert page.status_code == 200
