"""Every access rule of the REST API, attacked through every route over real HTTP.

ROUTES lists every operation (a test checks it against /openapi.json, so a new route cannot be
forgotten here); each attack runs the whole list.
"""

import http.client
import json
from urllib.parse import urlsplit

import httpx
import pytest
from membucket import ops

from tests.api.conftest import error_code

# (method, path, JSON body, scope needed); {mid} {app} {rule} {token} are filled in per test.
ROUTES = [
    ("POST", "/memories", {"text": "a new memory written by the attacker"}, "write"),
    ("GET", "/memories", None, "read"),
    ("POST", "/memories/search", {"query": "Alice takes insulin", "limit": 50}, "read"),
    ("POST", "/memories/recategorize", {"ids": ["{mid}"]}, "write"),
    ("POST", "/memories/delete", {"ids": ["{mid}"]}, "write"),
    ("POST", "/memories/state", {"ids": ["{mid}"], "action": "pause"}, "write"),
    ("GET", "/memories/{mid}", None, "read"),
    ("PATCH", "/memories/{mid}", {"text": "overwritten by the attacker"}, "write"),
    ("DELETE", "/memories/{mid}", None, "write"),
    ("POST", "/memories/{mid}/state", {"action": "archive"}, "write"),
    ("GET", "/memories/{mid}/history", None, "read"),
    ("GET", "/memories/{mid}/access", None, "read"),
    ("GET", "/memories/{mid}/related", None, "read"),
    ("GET", "/categories", None, "read"),
    ("GET", "/stats", None, "read"),
    ("GET", "/apps", None, "admin"),
    ("GET", "/apps/{app}", None, "admin"),
    ("POST", "/apps/{app}/pause", None, "admin"),
    ("POST", "/apps/{app}/resume", None, "admin"),
    ("GET", "/apps/{app}/memories", None, "admin"),
    ("GET", "/apps/{app}/access", None, "admin"),
    ("GET", "/rules", None, "admin"),
    ("POST", "/rules", {"app": "{app}", "effect": "allow", "scope": "memory", "target": "{mid}"}, "admin"),
    ("DELETE", "/rules/{rule}", None, "admin"),
    ("GET", "/config", None, "admin"),
    ("GET", "/tokens", None, "admin"),
    ("POST", "/tokens", {"scopes": ["admin"]}, "admin"),
    ("DELETE", "/tokens/{token}", None, "admin"),
    ("GET", "/tokens/oauth", None, "admin"),
    ("DELETE", "/tokens/oauth/{token}", None, "admin"),  # an OAuth grant id
    ("GET", "/category-definitions", None, "read"),
    ("PUT", "/category-definitions", {"name": "attack", "description": "anything the attacker wants"}, "admin"),
    ("DELETE", "/category-definitions?name=attack", None, "admin"),
    ("GET", "/me", None, "read"),
    ("GET", "/users", None, "read"),
    ("GET", "/stats/timeline", None, "read"),
    ("GET", "/access", None, "read"),
    ("GET", "/preferences", None, "read"),
    ("PUT", "/preferences", {"page_size": 99, "theme": "dark"}, "admin"),
    ("GET", "/connect", None, "read"),
    ("POST", "/export", {}, "admin"),
    ("POST", "/import", {}, "admin"),  # a JSON body: 415 once past auth (the bundle tests are in test_export_api.py)
    ("POST", "/import/uploads", None, "admin"),  # 409 on a store without S3 once past auth (tests/api/test_import_uploads.py)
]
PUBLIC = {("GET", "/health"), ("GET", "/ready")}


def fill(value, **ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [fill(v, **ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, **ids) for k, v in value.items()}
    return value


def call(client, method, path, body, **ids):
    return client.request(method, fill(path, **ids), json=fill(body, **ids) if body is not None else None)


def every_route(client, **ids):
    """Call every route; yield (route, response). Never a 5xx."""
    for method, path, body, scope in ROUTES:
        r = call(client, method, path, body, **ids)
        assert r.status_code < 500, (method, path, r.status_code, r.text)
        yield (method, path, scope), r


@pytest.fixture
def alice(api, owner, seeded):
    """Alice's namespace with memories, an app that read them, a rule, and a spare token."""
    api.mb.categorizer = lambda text, vector: ["recategorized"]  # so /memories/recategorize really writes
    cursor = api.as_("alice", app="cursor", scopes=("write",))
    cursor.post("/memories/search", json={"query": "Alice takes insulin"})
    rule = owner.post("/rules", json={"app": "claude", "effect": "deny", "scope": "category", "target": "hobby"}).json()
    token = api.state.tokens.create("alice", "cursor", ["read"])[1]
    texts = [m["text"] for m in owner.get("/memories").json()["items"]]
    return {"ids": seeded, "rule": rule["id"], "token": token.id, "texts": texts}


def snapshot(api, user="alice"):
    """Everything a user's namespace holds, plus their tokens, as plain data."""
    ctx = api.owner_ctx(user)
    page = ops.list_memories(ctx, filters=ops.Filters(states=["active", "paused", "archived", "deleted"]), size=1000)
    return {
        "memories": sorted((m.id, m.text, m.state, m.updated_at, tuple(m.categories)) for m in page.items),
        "apps": [(a.name, a.paused) for a in ops.list_apps(ctx)],
        "rules": [r.id for r in ops.list_rules(ctx)],
        "tokens": [(t.id, t.revoked_at) for t in api.state.tokens.list(user)],
    }


def test_routes_table_covers_the_schema(api):
    spec = httpx.get(api.url + "/openapi.json").json()
    published = {(m.upper(), p.removeprefix("/api/v1")) for p, item in spec["paths"].items() for m in item}
    listed = {(m, p.replace("{mid}", "{memory_id}").replace("{app}", "{name}").replace("{rule}", "{rule_id}").replace("{token}", "{token_id}").replace("oauth/{token_id}", "oauth/{grant_id}").split("?")[0])
              for m, p, _, _ in ROUTES}
    assert published == listed | PUBLIC


def test_one_user_never_reaches_another(api, alice):
    """Bob, as owner and as an app, with Alice's ids in every URL and body: nothing of Alice's."""
    before = snapshot(api, "alice")
    secrets = list(alice["ids"].values()) + alice["texts"] + [alice["rule"], alice["token"]]
    sent = {alice["rule"], alice["token"]}  # echoing what Bob sent (e.g. a rule's target) leaks nothing
    for bob in (api.as_("bob"), api.as_("bob", app="windsurf")):
        for mid in alice["ids"].values():
            sent.add(mid)
            for (method, path, _), r in every_route(bob, mid=mid, app="cursor", rule=alice["rule"], token=alice["token"]):
                leaked = [s for s in secrets if s in r.text and s not in sent]
                assert not leaked, (method, path, r.status_code, r.text)
                if "{mid}" in path or "{rule}" in path or "{token}" in path:
                    owner_only = r.status_code == 403 and error_code(r) == "owner_only"  # an app changes no rule
                    assert r.status_code == 404 or owner_only, (method, path, r.status_code, r.text)
    assert snapshot(api, "alice") == before


def test_paused_app_gets_nothing_and_writes_nothing(api, alice, owner):
    app_admin = api.as_("alice", app="cursor", scopes=("admin",))  # the widest token an app can hold
    writer = api.client(api.token("alice", "cursor", ("write",)))
    assert owner.post("/apps/cursor/pause").json()["paused"]
    before = snapshot(api)
    for client in (app_admin, writer):
        for mid in alice["ids"].values():
            for (method, path, scope), r in every_route(client, mid=mid, app="cursor", rule=alice["rule"], token=alice["token"]):
                if client is writer and scope == "admin":
                    assert error_code(r) == "insufficient_scope"
                else:
                    assert r.status_code == 403 and error_code(r) == "app_paused", (method, path, r.text)
    assert snapshot(api) == before
    owner.post("/apps/cursor/resume")
    assert app_admin.get("/memories").json()["total"] == 3


def test_deny_all_fails_closed(api, alice, owner):
    ids = alice["ids"]
    owner.post("/rules", json={"app": "cursor", "effect": "deny"})
    cursor = api.as_("alice", app="cursor", scopes=("write",))
    before = snapshot(api)
    assert cursor.get("/memories").json()["total"] == 0
    assert cursor.post("/memories/search", json={"query": "Alice takes insulin"}).json()["items"] == []
    assert cursor.get("/categories").json()["items"] == []
    assert cursor.get("/stats").json()["memories"]["total"] == 0
    for mid in ids.values():
        for sub in ("", "/history", "/related", "/access"):
            assert cursor.get(f"/memories/{mid}{sub}").status_code == 404
        for method, path, body in [
            ("PATCH", "/memories/{mid}", {"text": "x"}), ("DELETE", "/memories/{mid}", None),
            ("POST", "/memories/{mid}/state", {"action": "pause"}), ("POST", "/memories/delete", {"ids": ["{mid}"]}),
        ]:
            r = call(cursor, method, path, body, mid=mid)
            assert r.status_code == 403 and error_code(r) == "access_denied", (method, path, r.text)
    r = cursor.post("/memories", json={"text": "sneaky write"})
    assert r.status_code == 403 and error_code(r) == "access_denied"
    assert snapshot(api) == before


@pytest.mark.parametrize("target_app", ["cursor", "*"])
def test_memory_and_category_deny_rules_hold_on_every_read(api, alice, owner, target_app):
    ids = alice["ids"]
    owner.post("/rules", json={"app": target_app, "effect": "deny", "scope": "memory", "target": ids["bike"]})
    owner.post("/rules", json={"app": target_app, "effect": "deny", "scope": "category", "target": "health"})
    cursor = api.as_("alice", app="cursor", scopes=("write",))
    assert {m["id"] for m in cursor.get("/memories", params={"size": 100}).json()["items"]} == {ids["work"]}
    for q in ("Alice takes insulin", "red bicycle", "payments team"):
        assert {h["id"] for h in cursor.post("/memories/search", json={"query": q, "limit": 50}).json()["items"]} == {ids["work"]}
    assert [c["name"] for c in cursor.get("/categories").json()["items"]] == ["work"]
    assert cursor.get("/stats").json()["memories"]["total"] == 1
    assert {h["id"] for h in cursor.get(f"/memories/{ids['work']}/related", params={"limit": 50}).json()["items"]} == set()
    for hidden in (ids["bike"], ids["health"]):
        for sub in ("", "/history", "/related", "/access"):
            r = cursor.get(f"/memories/{hidden}{sub}")
            assert r.status_code == 404 and error_code(r) == "not_found", (sub, r.text)
            assert not any(t in r.text for t in alice["texts"])
        assert cursor.patch(f"/memories/{hidden}", json={"text": "x"}).status_code == 404
        assert cursor.post("/memories/state", json={"ids": [hidden, ids["work"]], "action": "archive"}).status_code == 404
    # the owner is not subject to rules
    assert owner.get("/memories").json()["total"] == 3


def test_apps_see_only_active_memories(api, alice, owner):
    ids = alice["ids"]
    owner.post("/memories/state", json={"ids": [ids["bike"]], "action": "archive"})
    cursor = api.as_("alice", app="cursor", scopes=("write",))
    assert cursor.get(f"/memories/{ids['bike']}").status_code == 404
    assert cursor.get("/memories", params={"state": "archived"}).json()["total"] == 0
    assert cursor.post(f"/memories/{ids['bike']}/state", json={"action": "resume"}).status_code == 404


BAD_TOKENS = [
    ("missing", None),
    ("not bearer", "Basic YWxpY2U6cGFzcw=="),
    ("empty bearer", "Bearer"),
    ("bearer with spaces", "Bearer    x   y"),
    ("garbage", "Bearer letmein"),
    ("unknown id", "Bearer mb_0123456789abcdef_" + "A" * 43),
]


def test_missing_invalid_and_revoked_tokens_get_401(api, alice):
    good = api.token("alice", None, ("admin",))
    token_id = good.split("_")[1]
    wrong_secret = f"Bearer mb_{token_id}_" + "B" * 43
    revoked = api.token("alice", None, ("admin",))
    api.state.tokens.revoke(revoked.split("_")[1])
    cases = BAD_TOKENS + [("wrong secret", wrong_secret), ("revoked", f"Bearer {revoked}")]
    for name, header in cases:
        client = api.client(**({"Authorization": header} if header else {}))
        for (method, path, _), r in every_route(client, mid=alice["ids"]["work"], app="cursor", rule=alice["rule"], token=alice["token"]):
            assert r.status_code == 401, (name, method, path, r.text)
            assert r.headers["WWW-Authenticate"] == "Bearer" and error_code(r) == "invalid_token"
    assert api.client(good).get("/memories").status_code == 200


def test_read_only_token_cannot_write(api, alice):
    reader = api.as_("alice", app="cursor", scopes=("read",))
    owner_reader = api.as_("alice", app=None, scopes=("read",))
    before = snapshot(api)
    for client in (reader, owner_reader):
        for (method, path, scope), r in every_route(client, mid=alice["ids"]["work"], app="cursor", rule=alice["rule"], token=alice["token"]):
            if scope == "read":
                assert r.status_code == 200, (method, path, r.text)
            else:
                assert r.status_code == 403 and error_code(r) == "insufficient_scope", (method, path, r.text)
                assert r.json()["error"]["details"]["required"] == scope
    assert snapshot(api) == before


def test_only_admin_manages_apps_rules_tokens(api, alice):
    writer = api.as_("alice", app=None, scopes=("write",))
    before = snapshot(api)
    for (method, path, scope), r in every_route(writer, mid=alice["ids"]["work"], app="cursor", rule=alice["rule"], token=alice["token"]):
        if scope == "admin":
            assert r.status_code == 403 and error_code(r) == "insufficient_scope", (method, path)
        else:  # allowed through (a 409: an earlier route in the list already deleted the memory)
            assert r.status_code in (200, 201, 409), (method, path, r.text)
    after = snapshot(api)
    assert after["rules"] == before["rules"] and after["tokens"] == before["tokens"] and after["apps"] == before["apps"]


def raw_request(api, method, path, body=b"", headers=None):
    """Send the path exactly as given (httpx would normalise dot segments)."""
    u = urlsplit(api.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        hdrs = {"Host": u.netloc, **(headers or {})}
        if body:
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


PATH_LIKE = [
    "..", "%2e%2e", "..%2F..%2Fns%2Fbob", "%2E%2E%2Fbob", "ns%2Fbob%2Flog", "a%00b", "%2Fetc%2Fpasswd",
    "..\\..\\bob", "x" * 300, "%C0%AE%C0%AE", "%FF", "bob%0A", "~", "*", "%2A",
]


def test_path_like_segments_never_500(api, alice):
    token = api.token("alice", None, ("admin",))
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    templates = [
        ("GET", "/api/v1/memories/{x}"), ("PATCH", "/api/v1/memories/{x}"), ("DELETE", "/api/v1/memories/{x}"),
        ("GET", "/api/v1/memories/{x}/history"), ("GET", "/api/v1/memories/{x}/related"), ("POST", "/api/v1/memories/{x}/state"),
        ("GET", "/api/v1/apps/{x}"), ("POST", "/api/v1/apps/{x}/pause"), ("GET", "/api/v1/apps/{x}/memories"),
        ("GET", "/api/v1/apps/{x}/access"), ("DELETE", "/api/v1/rules/{x}"), ("DELETE", "/api/v1/tokens/{x}"),
        ("GET", "/api/v1/memories/{x}/../../apps"), ("GET", "/api/v1/{x}/memories"),
    ]
    bodies = {"PATCH": b'{"text": "x"}', "POST": b'{"action": "pause"}'}
    before = snapshot(api)
    for method, template in templates:
        for x in PATH_LIKE:
            status, body = raw_request(api, method, template.replace("{x}", x), bodies.get(method, b""), auth)
            assert status in (400, 404, 405, 422), (method, template, x, status, body)
            assert json.loads(body)["error"]["code"], body
    assert snapshot(api)["memories"] == before["memories"]
    # names that are path-like are refused where they are accepted as data too
    owner = api.client(token)
    for bad in ("../bob", "a/b", "..", " cursor", "tab\tname"):
        assert owner.post("/rules", json={"app": bad, "effect": "deny"}).status_code == 400, bad
        assert owner.post("/tokens", json={"app": bad}).status_code == 400, bad
        assert owner.get("/memories", params={"app": bad}).status_code == 400, bad


def test_oversized_body_is_413(api):
    owner = api.as_("alice")
    big = json.dumps({"text": "x" * (api.state.max_body_bytes + 10)}).encode()
    r = owner.post("/memories", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and error_code(r) == "too_large"
    # text above MEMBUCKET_MAX_TEXT_CHARS but within the body limit: the operation's 413
    r = owner.post("/memories", json={"text": "y" * (api.mb.settings.max_text_chars + 1)})
    assert r.status_code == 413 and error_code(r) == "too_large" and r.json()["error"]["details"]["limit"] == 16_000
    assert owner.get("/memories").json()["total"] == 0


def test_oversized_chunked_body_is_413(api):
    owner = api.as_("alice")

    def chunks():  # no Content-Length: the streamed body must be counted as it arrives
        for _ in range(40):
            yield b"x" * 32_768

    r = owner.post("/memories", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and error_code(r) == "too_large"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.nip.io", "localhost.evil"])
def test_bad_host_is_421(api, host):
    token = api.token("alice", None, ("admin",))
    status, body = raw_request(api, "GET", "/api/v1/memories", headers={"Host": host, "Authorization": f"Bearer {token}"})
    assert status == 421 and json.loads(body)["error"]["code"] == "misdirected_request"


def test_tokens_are_per_user(api, alice):
    bob = api.as_("bob")
    assert all(t["user"] == "bob" for t in bob.get("/tokens").json()["items"])
    assert bob.delete(f"/tokens/{alice['token']}").status_code == 404
    made = bob.post("/tokens", json={"app": "cursor"}).json()
    assert made["user"] == "bob"
    assert api.client(made["token"]).get("/memories").json()["total"] == 0
