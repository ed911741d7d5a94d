"""With auth off the web UI can switch users: GET /users lists them and X-Membucket-User acts as
one (so memories written through /mcp/<client>/http/<user> can be seen); with auth on, a token
is one user's and the header changes nothing."""

from __future__ import annotations

import httpx
import pytest
from membucket import ops
from membucket.http.app import create_app
from membucket.http.serve import build_state

from tests.support.factories import make_mb
from tests.support.live import live_server


@pytest.fixture
def open_server(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "cache")
    with live_server(create_app(build_state(mb, "127.0.0.1", auth=False))) as url:
        yield url, mb


def test_auth_off_lists_users_and_switches(open_server):
    url, mb = open_server
    ops.add(mb.context("alice", app="claude"), "Alice keeps bees")
    ops.add(mb.context("default"), "the default user's note")
    users = httpx.get(f"{url}/api/v1/users").json()
    assert users == {"items": ["alice", "default"], "current": "default", "switchable": True}
    as_alice = httpx.get(f"{url}/api/v1/memories", headers={"X-Membucket-User": "alice"}).json()
    assert [m["text"] for m in as_alice["items"]] == ["Alice keeps bees"]
    assert httpx.get(f"{url}/api/v1/me", headers={"X-Membucket-User": "alice"}).json()["user"] == "alice"
    mine = httpx.get(f"{url}/api/v1/memories").json()
    assert [m["text"] for m in mine["items"]] == ["the default user's note"]
    bad = httpx.get(f"{url}/api/v1/memories", headers={"X-Membucket-User": "../etc"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_user_id"


def test_auth_on_a_token_is_one_user(api):
    ops.add(api.mb.context("bob"), "Bob's secret")
    alice = api.as_("alice")
    assert alice.get("/users").json() == {"items": ["alice"], "current": "alice", "switchable": False}
    assert alice.get("/memories", headers={"X-Membucket-User": "bob"}).json()["total"] == 0
