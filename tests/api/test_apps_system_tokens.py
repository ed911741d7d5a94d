"""Apps, rules, stats/health/ready/config and tokens over real HTTP."""

import uuid

from membucket import ops
from membucket.store import Unavailable

from tests.api.conftest import error_code


def test_apps_pause_resume_memories_access(api, owner, seeded):
    cursor = api.as_("alice", app="cursor", scopes=("write",))
    mid = cursor.post("/memories", json={"text": "cursor's own note about the build"}).json()["results"][0]["id"]
    cursor.get(f"/memories/{seeded['work']}")

    apps = owner.get("/apps").json()["items"]
    assert [(a["name"], a["paused"], a["memories"]) for a in apps] == [("cursor", False, 1)]
    assert owner.get("/apps/cursor").json()["name"] == "cursor"
    r = owner.get("/apps/windsurf")
    assert r.status_code == 404 and error_code(r) == "not_found"

    page = owner.get("/apps/cursor/memories").json()
    assert page["total"] == 1 and page["items"][0]["id"] == mid
    log = owner.get("/apps/cursor/access").json()["items"]
    assert [(r["op"], r["memory_id"]) for r in log] == [("get", seeded["work"])]

    r = owner.post("/apps/cursor/pause")
    assert r.status_code == 200 and r.json()["paused"] is True
    r = cursor.post("/memories/search", json={"query": "build"})
    assert r.status_code == 403 and error_code(r) == "app_paused"
    assert owner.post("/apps/cursor/pause").json()["paused"] is True  # idempotent
    assert owner.post("/apps/cursor/resume").json()["paused"] is False
    assert cursor.post("/memories/search", json={"query": "build"}).status_code == 200

    # pausing an app that has not connected yet creates it, paused: it is refused on first contact
    assert owner.post("/apps/windsurf/pause").json() == {**owner.get("/apps/windsurf").json(), "paused": True}
    windsurf = api.as_("alice", app="windsurf", scopes=("write",))
    assert error_code(windsurf.get("/memories")) == "app_paused"
    assert owner.post("/apps/VS Code/pause").json()["name"] == "VS Code"  # names with spaces work in paths


def test_rules_crud(api, owner, seeded):
    r = owner.post("/rules", json={"app": "cursor", "effect": "deny", "scope": "category", "target": "Health"})
    assert r.status_code == 201
    rule = r.json()
    assert rule["target"] == "health" and rule["scope"] == "category" and rule["effect"] == "deny"
    again = owner.post("/rules", json={"app": "cursor", "effect": "deny", "scope": "category", "target": "health"})
    assert again.json()["id"] == rule["id"]  # idempotent
    star = owner.post("/rules", json={"app": "*", "effect": "deny", "scope": "memory", "target": seeded["bike"]}).json()
    other = owner.post("/rules", json={"app": "claude", "effect": "allow"}).json()

    assert [x["id"] for x in owner.get("/rules").json()["items"]] == [rule["id"], star["id"], other["id"]]
    assert {x["id"] for x in owner.get("/rules", params={"app": "cursor"}).json()["items"]} == {rule["id"], star["id"]}
    assert "cursor" in {a["name"] for a in owner.get("/apps").json()["items"]}  # a rule registers its app

    cursor = api.as_("alice", app="cursor", scopes=("read",))
    assert {m["id"] for m in cursor.get("/memories").json()["items"]} == {seeded["work"]}

    r = owner.delete(f"/rules/{rule['id']}")
    assert r.status_code == 204 and r.content == b""
    assert owner.delete(f"/rules/{rule['id']}").status_code == 404
    assert owner.delete("/rules/not-a-rule").status_code == 400
    assert {m["id"] for m in cursor.get("/memories").json()["items"]} == {seeded["work"], seeded["health"]}

    for body, status in [
        ({"app": "cursor", "effect": "maybe"}, 422),
        ({"app": "cursor", "effect": "deny", "scope": "everything"}, 422),
        ({"app": "cursor", "effect": "deny", "scope": "memory", "target": "not-a-uuid"}, 400),
        ({"app": "cursor", "effect": "deny", "scope": "category"}, 400),
        ({"app": "../alice", "effect": "deny"}, 400),
        ({"app": "a/b", "effect": "deny"}, 400),
    ]:
        r = owner.post("/rules", json=body)
        assert r.status_code == status, (body, r.text)
    assert owner.get("/rules", params={"app": "x/y"}).status_code == 400


def test_health_ready_config(api, owner):
    anon = api.client()
    assert anon.get("/health").json()["status"] == "ok"
    r = anon.get("/ready")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    cfg = owner.get("/config").json()
    assert cfg["max_text_chars"] == 16_000 and cfg["store"] == api.mb.settings.store

    # the store going away: readiness says 503 with Retry-After, and so does a memory read
    store = api.mb.store
    original = store.list, store.get

    def down(*a, **k):
        raise Unavailable("injected: store down")

    store.list = store.get = down  # readiness LISTs; a memory read syncs by GET
    try:
        r = anon.get("/ready")
        assert r.status_code == 503 and r.headers["Retry-After"] == "1" and error_code(r) == "store_unavailable"
        r = owner.get("/memories")
        assert r.status_code == 503 and r.headers["Retry-After"] and error_code(r) == "store_unavailable"
    finally:
        store.list, store.get = original
    assert anon.get("/ready").status_code == 200


def test_tokens_list_create_revoke(api, owner):
    r = owner.post("/tokens", json={"app": "cursor", "scopes": ["read"], "description": "laptop"})
    assert r.status_code == 201
    made = r.json()
    assert made["token"].startswith("mb_" + made["id"]) and made["user"] == "alice" and made["scopes"] == ["read"]
    assert "secret_sha256" not in made

    listed = owner.get("/tokens").json()["items"]
    assert made["id"] in {t["id"] for t in listed}
    assert all("token" not in t and "secret_sha256" not in t for t in listed)

    new = api.client(made["token"])
    assert new.get("/memories").status_code == 200
    assert error_code(new.post("/memories", json={"text": "x"})) == "insufficient_scope"

    r = owner.delete(f"/tokens/{made['id']}")
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = new.get("/memories")
    assert r.status_code == 401 and error_code(r) == "invalid_token"  # at once on this server
    assert owner.delete(f"/tokens/{made['id']}").status_code == 200  # idempotent
    assert owner.delete(f"/tokens/{'0' * 16}").status_code == 404
    assert owner.delete("/tokens/../../etc").status_code == 404  # never routed
    assert owner.delete("/tokens/NOT-HEX").status_code == 400

    for body in ({"scopes": []}, {"scopes": ["root"]}, {"user": "bob"}, {"description": "x" * 201}):
        assert owner.post("/tokens", json=body).status_code == 422, body
    assert error_code(owner.post("/tokens", json={"app": "../bob"})) == "invalid_app_name"


def test_app_bound_admin_cannot_escape_its_app(api):
    app_admin = api.as_("alice", app="cursor", scopes=("admin",))
    r = app_admin.post("/tokens", json={"scopes": ["admin"]})
    assert r.status_code == 201 and r.json()["app"] == "cursor"  # defaults to its own app
    r = app_admin.post("/tokens", json={"app": "claude"})
    assert r.status_code == 403 and error_code(r) == "insufficient_scope"
    owner_token = api.state.tokens.create("alice", None, ["admin"])[1]
    assert {t["app"] for t in app_admin.get("/tokens").json()["items"]} == {"cursor"}
    assert app_admin.delete(f"/tokens/{owner_token.id}").status_code == 404


def test_unknown_namespace_reads_are_empty(api):
    bob = api.as_("bob")
    assert bob.get("/memories").json()["total"] == 0
    assert bob.get("/categories").json()["items"] == []
    assert bob.get("/apps").json()["items"] == []
    assert bob.get("/rules").json()["items"] == []
    assert bob.get("/stats").json()["memories"]["total"] == 0
    assert bob.get(f"/memories/{uuid.uuid4()}").status_code == 404
    assert ops.list_memories(api.owner_ctx("bob")).total == 0


def test_openapi_and_docs(api):
    anon = api.client()
    spec = anon.get(api.url + "/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    search = spec["paths"]["/api/v1/memories/search"]["post"]
    assert search["security"] == [{"HTTPBearer": []}]
    assert set(search["responses"]) >= {"200", "400", "401", "403", "413", "422", "503"}
    assert search["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert "security" not in spec["paths"]["/api/v1/health"]["get"]
    listing = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/memories"]["get"]["parameters"]}
    assert listing["sort"]["$ref"].endswith("/SortField") and listing["size"]["maximum"] == 1000
    assert spec["components"]["schemas"]["MemoryState"]["enum"] == ["active", "paused", "archived", "deleted"]
    docs = anon.get(api.url + "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
