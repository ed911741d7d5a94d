"""The routes the web UI added (/me, /stats/timeline, /preferences, /connect) and the UI's own
serving (/, /ui/*): behaviour, validation, persistence, and that no user reaches another's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from membucket.clients import TOKEN_PLACEHOLDER
from membucket.http.app import create_app
from membucket.http.serve import build_state

from tests.api.conftest import error_code, running_api
from tests.support.factories import make_mb
from tests.support.live import live_server


def today() -> str:
    return datetime.now(UTC).date().isoformat()


# -- the UI itself -----------------------------------------------------------------------------


def test_index_and_assets_are_served_with_a_strict_policy(api):
    r = httpx.get(api.url + "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/ui/app.js">' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    for asset, kind in (("app.js", "javascript"), ("api.js", "javascript"), ("pages/memories.js", "javascript"), ("styles.css", "css")):
        a = httpx.get(f"{api.url}/ui/{asset}")
        assert a.status_code == 200 and kind in a.headers["content-type"], asset
        assert a.headers["content-security-policy"] == csp


def test_ui_serving_refuses_traversal_foreign_hosts_and_leaks_nothing(api, seeded):
    assert httpx.get(api.url + "/ui/../web.py").status_code == 404
    assert httpx.get(api.url + "/ui/%2e%2e/web.py").status_code == 404
    assert httpx.get(api.url + "/", headers={"Host": "evil.example"}).status_code == 421
    page = httpx.get(api.url + "/").text  # the page is public; the memories are not in it
    assert "insulin" not in page


def test_static_files_ship_as_package_data():
    """pyproject's package-data must cover every file the UI loads (a wheel or Lambda layer
    without them would serve a blank page)."""
    import tomllib
    from pathlib import Path

    from membucket.ui import STATIC_DIR

    patterns = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["membucket.ui"]
    files = [p.relative_to(STATIC_DIR.parent) for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert {"static/index.html", "static/app.js", "static/pages/apps.js"} <= {str(f) for f in files}
    assert all(any(f.match(p) for p in patterns) for f in files), (files, patterns)


# -- /me ---------------------------------------------------------------------------------------


def test_me_says_who_the_token_is(api):
    r = api.client().get("/me")
    assert r.status_code == 401 and error_code(r) == "invalid_token"
    me = api.as_("alice", app="cursor", scopes=("read",)).get("/me").json()
    assert me == {"user": "alice", "app": "cursor", "scopes": ["read"], "auth_required": True}
    assert api.as_("bob").get("/me").json()["user"] == "bob"


# -- /stats/timeline -----------------------------------------------------------------------------


def test_timeline_counts_adds_and_app_reads_per_day(api, owner, seeded):
    cursor = api.as_("alice", app="cursor", scopes=("write",))
    assert cursor.post("/memories/search", json={"query": "insulin", "limit": 2}).status_code == 200
    t = owner.get("/stats/timeline", params={"days": 7}).json()
    assert t["days"] == 7 and len(t["items"]) == 7
    dates = [p["date"] for p in t["items"]]
    assert dates == sorted(dates) and dates[-1] == today()
    assert (datetime.fromisoformat(dates[-1]) - datetime.fromisoformat(dates[0])) == timedelta(days=6)
    assert t["items"][-1] == {"date": today(), "added": 3, "accessed": 2}
    assert all(p["added"] == p["accessed"] == 0 for p in t["items"][:-1])
    assert (t["total_added"], t["total_accessed"]) == (3, 2)


def test_timeline_is_scoped_like_stats(api, owner, seeded):
    """An app sees adds of what it may read and only its own reads; another user sees nothing."""
    owner.post("/rules", json={"app": "claude", "effect": "deny", "scope": "category", "target": "health"})
    api.as_("alice", app="cursor", scopes=("write",)).post("/memories/search", json={"query": "bicycle", "limit": 3})
    claude = api.as_("alice", app="claude", scopes=("read",)).get("/stats/timeline", params={"days": 1}).json()
    assert claude["items"] == [{"date": today(), "added": 2, "accessed": 0}]
    bob = api.as_("bob").get("/stats/timeline", params={"days": 1}).json()
    assert bob["items"] == [{"date": today(), "added": 0, "accessed": 0}]
    owner.post("/apps/claude/pause")
    assert error_code(api.as_("alice", app="claude", scopes=("read",)).get("/stats/timeline")) == "app_paused"


@pytest.mark.parametrize("days", ["0", "367", "-1", "x", "1.5"])
def test_timeline_rejects_bad_ranges(owner, days):
    r = owner.get("/stats/timeline", params={"days": days})
    assert r.status_code == 422 and error_code(r) == "validation_error"


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata"])
def test_timeline_days_are_local_to_the_zone_asked_for(owner, seeded, tz):
    """UTC+14 and UTC-11 are on different calendar days for most of every day: the adds land on
    the zone's today, which is the series' last day."""
    from zoneinfo import ZoneInfo

    t = owner.get("/stats/timeline", params={"days": 3, "tz": tz}).json()
    local_today = datetime.now(ZoneInfo(tz)).date().isoformat()
    assert t["tz"] == tz and [p["date"] for p in t["items"]][-1] == local_today
    assert t["items"][-1]["added"] == 3 and t["total_added"] == 3


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "UTC+5"])
def test_timeline_refuses_unknown_zones(owner, tz):
    r = owner.get("/stats/timeline", params={"tz": tz})
    assert r.status_code == 400 and error_code(r) == "invalid_input"


def test_timeline_needs_a_token(api):
    assert api.client().get("/stats/timeline").status_code == 401


# -- /access -------------------------------------------------------------------------------------


def test_recent_access_is_newest_first_and_scoped(api, owner, seeded):
    cursor = api.as_("alice", app="cursor", scopes=("write",))
    claude = api.as_("alice", app="claude", scopes=("write",))
    cursor.post("/memories/search", json={"query": "insulin", "limit": 1})
    claude.get(f"/memories/{seeded['bike']}")
    everything = owner.get("/access", params={"limit": 10}).json()["items"]
    assert [(r["app"], r["memory_id"]) for r in everything] == [("claude", seeded["bike"]), ("cursor", seeded["health"])]
    assert everything[1]["query"] == "insulin" and everything[1]["op"] == "search"
    assert [r["app"] for r in cursor.get("/access").json()["items"]] == ["cursor"]  # an app: only its own
    assert owner.get("/access", params={"limit": 1}).json()["items"][0]["app"] == "claude"
    assert api.as_("bob").get("/access").json()["items"] == []
    assert owner.get("/access", params={"limit": 0}).status_code == 422


# -- /preferences -------------------------------------------------------------------------------


def test_preferences_default_save_merge_and_survive_a_restart(tmp_path):
    with running_api(tmp_path) as api:
        alice = api.as_("alice")
        first = alice.get("/preferences").json()
        assert first == {"search_mode": "hybrid", "page_size": 25, "timezone": "UTC", "theme": "auto", "updated_at": None}
        saved = alice.put("/preferences", json={"search_mode": "dense", "page_size": 50, "timezone": "Europe/Paris"}).json()
        assert saved["search_mode"] == "dense" and saved["updated_at"]
        partial = alice.put("/preferences", json={"theme": "dark"}).json()
        assert (partial["search_mode"], partial["page_size"], partial["timezone"], partial["theme"]) == ("dense", 50, "Europe/Paris", "dark")
        token = api.token("alice")
    # A new server process on the same bucket (fresh replicas, fresh token cache).
    with running_api(tmp_path) as again:
        got = again.client(token).get("/preferences").json()
        assert (got["search_mode"], got["page_size"], got["timezone"], got["theme"]) == ("dense", 50, "Europe/Paris", "dark")
        assert again.as_("bob").get("/preferences").json()["updated_at"] is None  # bob never saw alice's


@pytest.mark.parametrize("body, code", [
    ({"page_size": 1}, "validation_error"),
    ({"page_size": 10_000}, "validation_error"),
    ({"search_mode": "telepathy"}, "validation_error"),
    ({"theme": "neon"}, "validation_error"),
    ({"colour": "red"}, "validation_error"),
    ({"timezone": "Mars/Olympus_Mons"}, "invalid_input"),
    ({"timezone": "../../etc/passwd"}, "invalid_input"),
    ({"timezone": ""}, "validation_error"),
])
def test_invalid_preferences_are_refused_and_nothing_is_stored(api, owner, body, code):
    owner.put("/preferences", json={"page_size": 40})
    r = owner.put("/preferences", json=body)
    assert r.status_code in (400, 422) and error_code(r) == code, r.text
    assert owner.get("/preferences").json()["page_size"] == 40


def test_only_the_owner_changes_preferences(api, owner):
    owner.put("/preferences", json={"page_size": 30})
    reader = api.as_("alice", scopes=("read",))
    assert reader.get("/preferences").json()["page_size"] == 30
    assert error_code(reader.put("/preferences", json={"page_size": 99})) == "insufficient_scope"
    app_admin = api.as_("alice", app="cursor", scopes=("admin",))
    r = app_admin.put("/preferences", json={"page_size": 99})
    assert r.status_code == 403
    assert owner.get("/preferences").json()["page_size"] == 30
    assert api.client().put("/preferences", json={"page_size": 99}).status_code == 401


def test_a_malformed_stored_object_falls_back_to_defaults(api, owner):
    """Preferences are read on every UI start: a damaged object must not lock the user out."""
    api.mb.store.put("ns/alice/preferences.json", b'{"values": {"page_size": "lots", "theme": "dark"}}')
    got = owner.get("/preferences").json()
    assert (got["page_size"], got["theme"]) == (25, "dark")
    api.mb.store.put("ns/alice/preferences.json", b"not json")
    r = owner.get("/preferences")
    assert r.status_code == 200 and r.json()["theme"] == "auto" and r.json()["updated_at"] is None
    assert owner.put("/preferences", json={"theme": "light"}).json()["theme"] == "light"  # and it can be repaired


# -- /connect ------------------------------------------------------------------------------------


def test_connect_with_auth_gives_mcp_url_and_a_placeholder_that_works_once_filled(api):
    alice = api.as_("alice")
    info = alice.get("/connect").json()
    assert info["auth_required"] and info["token_placeholder"] == TOKEN_PLACEHOLDER
    ids = [c["id"] for c in info["clients"]]
    assert ids == ["claude", "cursor", "windsurf", "vscode", "mcp-client"]
    for c in info["clients"]:
        assert c["url"] == f"{api.url}/mcp"
        assert TOKEN_PLACEHOLDER in str(c["config"]) and "mb_" not in str(c["config"])
    cursor = next(c for c in info["clients"] if c["id"] == "cursor")["config"]["mcpServers"]["membucket"]
    vscode = next(c for c in info["clients"] if c["id"] == "vscode")["config"]["servers"]["membucket"]
    windsurf = next(c for c in info["clients"] if c["id"] == "windsurf")["config"]["mcpServers"]["membucket"]
    assert vscode["type"] == "http" and windsurf["serverUrl"] == cursor["url"]
    created = alice.post("/tokens", json={"app": "cursor", "scopes": ["write"]}).json()
    headers = {k: v.replace(TOKEN_PLACEHOLDER, created["token"]) for k, v in cursor["headers"].items()}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    accept = {"Accept": "application/json, text/event-stream"}
    assert httpx.post(cursor["url"], json=init, headers={**accept, **headers}).status_code == 200
    assert httpx.post(cursor["url"], json=init, headers=accept).status_code == 401


def test_connect_without_auth_names_client_and_user_in_the_url(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "cache")
    with live_server(create_app(build_state(mb, "127.0.0.1", auth=False))) as url:
        info = httpx.get(f"{url}/api/v1/connect").json()
        assert not info["auth_required"] and info["token_placeholder"] is None
        urls = {c["id"]: c["url"] for c in info["clients"]}
        assert urls["cursor"] == f"{url}/mcp/cursor/http/default" and urls["vscode"] == f"{url}/mcp/vscode/http/default"
        assert urls["mcp-client"] == f"{url}/mcp/mcp-client/http/default"  # the generic one names a client too
        assert not any("/http/http/" in u for u in urls.values())
        assert "headers" not in str(info["clients"]) and "Authorization" not in str(info["clients"])


def test_connect_needs_a_token(api):
    assert api.client().get("/connect").status_code == 401
