"""/openapi.json says what the server enforces (configured limits, patterns, zones); requests the
schema calls invalid are refused with a code; an undeclared method is 405 with the full Allow list."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from membucket.auth import TokenStore
from membucket.caller import ServerState
from membucket.http.app import LOOPBACK_HOSTS, create_app
from starlette.testclient import TestClient

from tests.api.conftest import error_code
from tests.support.factories import make_mb


@contextlib.contextmanager
def served(tmp_path, auth: bool = True, **settings):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "cache", **settings)
    state = ServerState(mb=mb, tokens=TokenStore(mb.store), auth_required=auth, allowed_hosts=list(LOOPBACK_HOSTS))
    headers = {}
    if auth:
        token, _ = state.tokens.create("alice", None, ["admin"])
        headers["Authorization"] = f"Bearer {token}"
    with TestClient(create_app(state), base_url="http://127.0.0.1", headers=headers) as client:
        yield client


def _param(spec, path, method, name):
    return next(p for p in spec["paths"][path][method]["parameters"] if p["name"] == name)


def test_the_schema_states_the_configured_limits(tmp_path):
    with served(tmp_path, max_batch=50, max_search_limit=7, max_text_chars=300, max_categories=4) as c:
        spec = c.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["IdsIn"]["properties"]["ids"]["maxItems"] == 50
    assert schemas["BulkStateIn"]["properties"]["ids"]["maxItems"] == 50
    recat = schemas["RecategorizeIn"]["properties"]["ids"]
    assert [b["maxItems"] for b in recat["anyOf"] if b.get("type") == "array"] == [50]
    assert schemas["SearchIn"]["properties"]["limit"]["maximum"] == 7
    assert schemas["SearchIn"]["properties"]["limit"]["x-setting"] == "MEMBUCKET_MAX_SEARCH_LIMIT"
    assert schemas["SearchIn"]["properties"]["query"]["maxLength"] == 300
    assert schemas["MemoryCreate"]["properties"]["text"]["maxLength"] == 300
    cats = schemas["MemoryCreate"]["properties"]["categories"]["anyOf"][0]
    assert cats["maxItems"] == 4 and "pattern" in cats["items"]
    assert _param(spec, "/api/v1/memories", "get", "size")["schema"]["maximum"] == 50
    assert _param(spec, "/api/v1/memories/{memory_id}/related", "get", "limit")["schema"]["maximum"] == 7
    assert schemas["SearchIn"]["properties"]["limit"]["minimum"] == 1
    assert schemas["SearchIn"]["properties"]["threshold"]["anyOf"][0]["minimum"] == -1
    assert schemas["PreferencesIn"]["properties"]["page_size"]["anyOf"][0]["minimum"] == 5
    assert "x-membucket-limit" not in str(spec) and "'ge'" not in str(spec)


def test_the_schema_states_names_zones_cursors_and_times(tmp_path):
    with served(tmp_path) as c:
        spec = c.get("/openapi.json").json()
    tz = _param(spec, "/api/v1/stats/timeline", "get", "tz")["schema"]
    assert "Europe/Paris" in tz["enum"] and "UTC" in tz["enum"] and "Mars/Olympus" not in tz["enum"]
    prefs = spec["components"]["schemas"]["PreferencesIn"]["properties"]["timezone"]["anyOf"][0]
    assert prefs["enum"] == tz["enum"]
    app_name = _param(spec, "/api/v1/apps/{name}", "get", "name")["schema"]
    assert app_name["pattern"].startswith("^") and app_name["maxLength"] == 64
    assert _param(spec, "/api/v1/tokens/{token_id}", "delete", "token_id")["schema"]["pattern"] == "^[0-9a-f]{16}$"
    cursor = _param(spec, "/api/v1/memories", "get", "cursor")["schema"]  # pattern applies to the string branch
    assert cursor["pattern"] and cursor["anyOf"][0]["maxLength"] == 1000
    after = _param(spec, "/api/v1/memories", "get", "created_after")["schema"]["anyOf"][0]
    assert after["format"] == "date-time"
    rule = spec["components"]["schemas"]["RuleIn"]
    assert {b["properties"]["scope"]["const"] for b in rule["anyOf"]} == {"all", "memory", "category"}


def test_auth_decides_what_the_schema_asks_for(tmp_path):
    with served(tmp_path / "on", auth=True) as c:
        on = c.get("/openapi.json").json()
    with served(tmp_path / "off", auth=False) as c:
        off = c.get("/openapi.json").json()
    stats_on, stats_off = on["paths"]["/api/v1/stats"]["get"], off["paths"]["/api/v1/stats"]["get"]
    assert stats_on["security"] and "X-Membucket-User" not in str(stats_on)  # ignored with auth on
    assert "security" not in stats_off and "securitySchemes" not in off["components"]
    assert _param(off, "/api/v1/stats", "get", "X-Membucket-User")["in"] == "header"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/api/v1/memories", {"text": "tea", "infer": 0}),
    ("post", "/api/v1/memories", {"text": "tea", "infer": "true"}),
    ("post", "/api/v1/memories/search", {"query": "tea", "limit": "3"}),
    ("post", "/api/v1/memories/search", {"query": "tea", "limit": True}),
    ("post", "/api/v1/memories/search", {"query": "tea", "threshold": False}),
    ("post", "/api/v1/memories/search", {"query": "tea", "filters": {"created_before": 0}}),
    ("post", "/api/v1/memories/search", {"query": "tea", "filters": {"created_after": "2024-05-01"}}),
    ("post", "/api/v1/memories/recategorize", {"only_missing": 1}),
    ("put", "/api/v1/preferences", {"page_size": "10"}),
    ("get", "/api/v1/memories?created_before=0.5", None),
    ("get", "/api/v1/memories?created_after=2024-05-01T00:00:00", None),  # no offset
])
def test_what_the_schema_refuses_is_refused(tmp_path, method, path, body):
    with served(tmp_path) as c:
        r = c.request(method.upper(), path, json=body)
    assert r.status_code == 422 and error_code(r) == "validation_error", r.text


def test_export_times_and_flags_are_strict(tmp_path):
    with served(tmp_path) as c:
        assert error_code(c.post("/api/v1/export", json={"encrypt": 0})) == "validation_error"
        bad = c.post("/api/v1/export", json={"created_after": ""})
        assert bad.status_code == 400 and error_code(bad) == "invalid_input"
        assert c.post("/api/v1/export", json={"created_after": "2024-05-01T00:00:00Z"}).status_code == 200


def test_rfc3339_times_and_json_numbers_still_pass(tmp_path):
    with served(tmp_path) as c:
        assert c.post("/api/v1/memories", json={"text": "tea", "infer": False}).status_code == 201
        found = c.post("/api/v1/memories/search", json={
            "query": "tea", "limit": 2.0, "threshold": 0, "filters": {"created_after": "2000-01-01T00:00:00+02:00"},
        })
        assert found.status_code == 200 and len(found.json()["items"]) == 1
        assert c.get("/api/v1/memories", params={"created_after": "2000-01-01T00:00:00Z"}).json()["total"] == 1


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PATCH", "/api/v1/memories/delete", "POST"),
    ("PATCH", "/api/v1/memories/search", "POST"),
    ("PATCH", "/api/v1/memories/recategorize", "POST"),
    ("GET", "/api/v1/memories/state", "POST"),
    ("OPTIONS", "/api/v1/memories", "GET, POST"),
    ("PUT", f"/api/v1/memories/{uuid.uuid4()}", "DELETE, GET, PATCH"),
    ("DELETE", "/api/v1/preferences", "GET, PUT"),
    ("POST", "/api/v1/health", "GET"),
])
def test_an_undeclared_method_is_405_with_every_allowed_method(tmp_path, method, path, allow):
    with served(tmp_path) as c:
        r = c.request(method, path, json={"ids": [str(uuid.uuid4())]})
    assert r.status_code == 405 and r.headers["allow"] == allow, r.text
    assert error_code(r) == "method_not_allowed"
