"""Rules and pause state restrict apps, so only the owner (a token bound to no app) may change
them: an app-bound token of any scope gets 403, an admin one ``owner_only``, and a memory its
deny rule hides stays hidden."""

from __future__ import annotations

import pytest

from tests.api.conftest import error_code

READS = [("GET", "/apps"), ("GET", "/apps/cursor"), ("GET", "/apps/cursor/memories"),
         ("GET", "/apps/cursor/access"), ("GET", "/rules")]
CHANGES = [("POST", "/apps/cursor/pause", None), ("POST", "/apps/cursor/resume", None),
           ("POST", "/apps/other/pause", None), ("POST", "/apps/other/resume", None),
           ("POST", "/rules", {"app": "cursor", "effect": "allow", "scope": "all"}),
           ("POST", "/rules", {"app": "other", "effect": "deny", "scope": "all"}),
           ("DELETE", "/rules/{rule}", None)]


@pytest.fixture
def setup(api, owner):
    hidden = owner.post("/memories", json={"text": "Alice's salary is 90k"}).json()["results"][0]["id"]
    owner.post("/memories", json={"text": "Alice likes tea"})
    rule = owner.post("/rules", json={"app": "cursor", "effect": "deny", "scope": "memory", "target": hidden}).json()
    owner.post("/apps/cursor/resume")  # the app exists
    return hidden, rule["id"]


def _call(client, method, path, body=None):
    return client.request(method, path, json=body) if body is not None else client.request(method, path)


@pytest.mark.parametrize("scope", ["read", "write", "admin"])
def test_app_bound_tokens_cannot_change_rules_or_pause(api, owner, setup, scope):
    hidden, rule = setup
    app = api.as_("alice", "cursor", (scope,))
    for method, path, body in CHANGES:
        r = _call(app, method, path.format(rule=rule), body)
        assert r.status_code == 403, (scope, method, path, r.text)
        if scope == "admin":
            assert error_code(r) == "owner_only", r.text
    for method, path in READS:
        r = _call(app, method, path)
        assert r.status_code == (200 if scope == "admin" else 403), (scope, method, path, r.text)
    # nothing changed: the deny rule still hides the memory from the app, the app is not paused
    assert [x["id"] for x in owner.get("/rules").json()["items"]] == [rule]
    assert owner.get("/apps/cursor").json()["paused"] is False
    assert app.get(f"/memories/{hidden}").status_code in (403, 404)


def test_the_owner_may_change_rules_and_pause(api, owner, setup):
    hidden, rule = setup
    for method, path in READS:
        assert _call(owner, method, path).status_code == 200, path
    for method, path, body in CHANGES:
        r = _call(owner, method, path.format(rule=rule), body)
        assert r.status_code in (200, 201, 204), (method, path, r.text)
    app = api.as_("alice", "cursor", ("read",))
    assert app.get(f"/memories/{hidden}").status_code == 200  # the deny rule is gone
