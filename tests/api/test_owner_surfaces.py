"""What the owner adds through the server says where it came from: ``rest-api`` for the REST API,
``web-ui`` for the web UI (which says so in a header). They are labels, not apps: no rule or
pause applies to the owner, no app may take those names, and memories an older server stored
with no app still read as the owner's."""

from __future__ import annotations

from membucket import ops

from tests.api.conftest import error_code


def _add(client, text: str, **headers: str) -> str:
    r = client.post("/memories", json={"text": text}, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()["results"][0]["id"]


def test_the_owner_adds_are_labelled_with_the_surface_and_history_names_it(api, owner):
    rest = _add(owner, "Alice's passport expires in 2031")
    ui = _add(owner, "Alice waters the ficus on Sundays", **{"X-Membucket-Client": "web-ui"})
    assert owner.get(f"/memories/{rest}").json()["app"] == "rest-api"
    assert owner.get(f"/memories/{ui}").json()["app"] == "web-ui"
    assert [e["actor"] for e in owner.get(f"/memories/{ui}/history").json()["items"]] == ["web-ui"]
    assert [e["actor"] for e in owner.get(f"/memories/{rest}/history").json()["items"]] == ["rest-api"]
    # any other value is the REST API: a label, not a way to name oneself
    other = _add(owner, "Alice's bike is blue", **{"X-Membucket-Client": "cursor"})
    assert owner.get(f"/memories/{other}").json()["app"] == "rest-api"
    # the label filters like an app name does
    hits = owner.get("/memories", params={"app": "web-ui"}).json()["items"]
    assert [m["id"] for m in hits] == [ui]


def test_an_app_token_still_writes_as_its_app(api):
    cursor = api.as_("alice", "cursor", ("write",))
    mid = _add(cursor, "Alice uses vim keybindings", **{"X-Membucket-Client": "web-ui"})
    assert api.as_("alice").get(f"/memories/{mid}").json()["app"] == "cursor"


def test_the_labels_are_no_apps_the_owner_cannot_be_paused_or_ruled(api, owner):
    _add(owner, "Alice's locker code is 4417", **{"X-Membucket-Client": "web-ui"})
    assert owner.get("/apps").json()["items"] == []  # a label registers no app
    for name in ("web-ui", "rest-api"):
        r = owner.post(f"/apps/{name}/pause")
        assert r.status_code == 400 and error_code(r) == "invalid_app_name", r.text
        assert "not an app" in r.json()["error"]["message"]
        r = owner.post("/rules", json={"app": name, "effect": "deny", "scope": "all"})
        assert r.status_code == 400 and error_code(r) == "invalid_app_name", r.text
    assert owner.get("/apps").json()["items"] == [] and owner.get("/rules").json()["items"] == []
    # and the owner keeps reading and writing through both surfaces
    _add(owner, "Alice's gym opens at 6", **{"X-Membucket-Client": "web-ui"})
    assert owner.post("/memories/search", json={"query": "locker code"}, headers={"X-Membucket-Client": "web-ui"}).status_code == 200


def test_no_app_may_act_under_a_label(api):
    for name in ("web-ui", "rest-api"):
        r = api.as_("alice", name, ("write",)).post("/memories", json={"text": "pretending to be the owner"})
        assert r.status_code == 400 and error_code(r) == "invalid_app_name", r.text


def test_memories_stored_with_no_app_still_read_as_the_owners(api, owner):
    """A store written before the labels (or through the library, or an import) has app null."""
    old = ops.add(api.owner_ctx("alice"), "Alice was born in Porto").events[0].id
    assert owner.get(f"/memories/{old}").json()["app"] is None
    listed = {m["id"]: m["app"] for m in owner.get("/memories").json()["items"]}
    assert listed[old] is None
