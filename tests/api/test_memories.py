"""Memories over real HTTP: CRUD, list filters and paging, search, state changes, history, access, related."""

import uuid

import pytest
from membucket import ops

from tests.api.conftest import error_code


def add(client, text, **body):
    r = client.post("/memories", json={"text": text, **body})
    assert r.status_code == 201, r.text
    return r.json()["results"][0]


def test_create_get_update_delete(owner):
    ev = add(owner, "Alice likes green tea", metadata={"source": "chat"}, categories=["Food"])
    assert ev["event"] == "ADD" and ev["text"] == "Alice likes green tea"
    mid = ev["id"]
    got = owner.get(f"/memories/{mid}").json()
    assert got["state"] == "active" and got["categories"] == ["food"] and got["metadata"] == {"source": "chat"}
    assert got["app"] == "rest-api" and got["created_at"].endswith("Z")  # the owner, through the REST API

    # the same text again is a NOOP; infer without an LLM says so
    r = owner.post("/memories", json={"text": "alice likes GREEN tea", "infer": True})
    assert r.status_code == 201 and r.json()["results"][0]["event"] == "NOOP" and "no LLM" in r.json()["note"]

    # edit re-embeds: search finds the new text
    r = owner.patch(f"/memories/{mid}", json={"text": "Alice prefers black coffee", "categories": ["drinks"]})
    assert r.status_code == 200 and r.json()["text"] == "Alice prefers black coffee" and r.json()["categories"] == ["drinks"]
    hits = owner.post("/memories/search", json={"query": "black coffee"}).json()["items"]
    assert hits[0]["id"] == mid and hits[0]["score"] > 0.5

    r = owner.delete(f"/memories/{mid}")
    assert r.status_code == 200 and r.json() == {"state": "deleted", "changed": [mid], "unchanged": []}
    assert owner.get(f"/memories/{mid}").json()["state"] == "deleted"  # the owner still sees it
    assert owner.get("/memories").json()["total"] == 0  # default list: all but deleted
    r = owner.patch(f"/memories/{mid}", json={"text": "resurrect"})
    assert r.status_code == 409 and error_code(r) == "illegal_transition"


def nested(depth):
    value = 1
    for _ in range(depth - 1):
        value = {"a": value}
    return {"a": value}


def test_create_validation(owner):
    for body, status, code in [
        ({}, 422, "validation_error"),
        ({"text": ""}, 422, "validation_error"),
        ({"text": "   "}, 400, "empty_text"),
        ({"text": "x", "metadata": [1]}, 422, "validation_error"),
        ({"text": "x", "categories": ["bad|name"]}, 400, "invalid_input"),
        ({"text": "x", "user_id": "bob"}, 422, "validation_error"),  # no user in bodies: the token says who
        ({"text": "x" * 16_001}, 413, "too_large"),
        ({"text": "x", "metadata": {"k": "v" * 20_000}}, 413, "too_large"),
        ({"text": "nul\x00byte"}, 400, "invalid_input"),
        ({"text": "deep", "metadata": nested(300)}, 400, "invalid_metadata"),  # would break every later read
    ]:
        r = owner.post("/memories", json=body)
        assert (r.status_code, error_code(r)) == (status, code), (body, r.text)
    r = owner.post("/memories", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and error_code(r) == "validation_error"
    r = owner.post("/memories", json={"text": "deep enough", "metadata": nested(16)})
    assert r.status_code == 201
    mid = r.json()["results"][0]["id"]
    assert owner.get(f"/memories/{mid}").status_code == 200
    r = owner.patch(f"/memories/{mid}", json={"metadata": {"a": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}})
    assert r.status_code == 400 and error_code(r) == "invalid_metadata"
    assert owner.delete(f"/memories/{mid}").status_code == 200
    r = owner.patch(f"/memories/{uuid.uuid4()}", json={})
    assert r.status_code == 400 and error_code(r) == "invalid_input"  # nothing to update
    assert owner.get("/memories").json()["total"] == 0  # (the one accepted above was deleted)


def test_list_filters_sort_and_pages(api, owner):
    cursor = api.as_("alice", app="cursor", scopes=("write",))
    ids = [add(owner, f"owner note number {i} about topic {'even' if i % 2 == 0 else 'odd'}",
               categories=["even" if i % 2 == 0 else "odd"])["id"] for i in range(7)]
    cid = add(cursor, "written by the cursor app about gardening")["id"]
    owner.post(f"/memories/{ids[0]}/state", json={"action": "archive"})

    page = owner.get("/memories", params={"size": 3}).json()
    assert page["total"] == 8 and page["pages"] == 3 and page["size"] == 3 and len(page["items"]) == 3
    assert page["items"][0]["id"] == cid  # newest first by default

    assert {m["id"] for m in owner.get("/memories", params={"app": "cursor"}).json()["items"]} == {cid}
    assert {m["id"] for m in owner.get("/memories", params={"state": "archived"}).json()["items"]} == {ids[0]}
    both = owner.get("/memories", params=[("state", "archived"), ("state", "active")]).json()
    assert both["total"] == 8
    odd = owner.get("/memories", params={"category": "odd"}).json()
    assert odd["total"] == 3 and all(m["categories"] == ["odd"] for m in odd["items"])
    assert owner.get("/memories", params={"q": "GARDENING"}).json()["total"] == 1
    assert owner.get("/memories", params={"q": "number 3"}).json()["items"][0]["id"] == ids[3]

    asc = owner.get("/memories", params={"sort": "text", "order": "asc", "size": 100}).json()["items"]
    assert [m["text"] for m in asc] == sorted(m["text"] for m in asc)
    first = asc[0]["created_at"]
    assert owner.get("/memories", params={"created_before": "2000-01-01T00:00:00Z"}).json()["total"] == 0
    assert owner.get("/memories", params={"created_after": "2000-01-01T00:00:00+02:00"}).json()["total"] == 8
    assert owner.get("/memories", params={"created_after": first}).json()["total"] >= 1

    # page numbers and cursors walk the same rows, without repeats
    by_page = [m["id"] for p in (1, 2, 3) for m in owner.get("/memories", params={"size": 3, "page": p}).json()["items"]]
    by_cursor, cur = [], None
    while True:
        params = {"size": 3, **({"cursor": cur} if cur else {})}
        body = owner.get("/memories", params=params).json()
        by_cursor += [m["id"] for m in body["items"]]
        cur = body["next_cursor"]
        if cur is None:
            break
    assert by_page == by_cursor and len(set(by_cursor)) == 8

    for params, status in [
        ({"sort": "password"}, 422), ({"order": "up"}, 422), ({"size": 0}, 422), ({"page": 0}, 422),
        ({"state": "gone"}, 422), ({"cursor": "garbage!"}, 400), ({"created_after": "yesterday"}, 422),
        ({"size": 1000, "page": 1}, 200), ({"app": "../bob"}, 400),
        ({"created_after": "9999-12-31T23:59:59-14:00"}, 400),  # a zone offset past year 9999
    ]:
        r = owner.get("/memories", params=params)
        assert r.status_code == status, (params, r.text)
    r = owner.get("/memories", params={"sort": "text", "cursor": page_cursor(owner)})
    assert r.status_code == 400 and "another sort" in r.json()["error"]["message"]


def page_cursor(client):
    return client.get("/memories", params={"size": 1}).json()["next_cursor"]


def test_search_filters_and_threshold(api, owner, seeded):
    cursor = api.as_("alice", app="cursor", scopes=("write",))
    own = add(cursor, "cursor remembers the insulin pump model", metadata={"device": "pump"})["id"]
    hits = owner.post("/memories/search", json={"query": "Alice takes insulin", "limit": 5}).json()["items"]
    assert hits[0]["id"] == seeded["health"] and len(hits) == 4  # no threshold: every active memory, ranked
    assert owner.post("/memories/search", json={"query": "insulin pump"}).json()["items"][0]["id"] == own
    assert all(set(h) == {"id", "text", "score", "categories", "created_at", "updated_at", "app", "metadata"} for h in hits)

    def ids(**body):
        r = owner.post("/memories/search", json={"query": "insulin", "limit": 10, **body})
        assert r.status_code == 200, r.text
        return [h["id"] for h in r.json()["items"]]

    assert ids(filters={"apps": ["cursor"]}) == [own]
    assert ids(filters={"categories": ["health"]}) == [seeded["health"]]
    assert ids(filters={"metadata": {"device": "pump"}}) == [own]
    assert ids(filters={"text": "pump"}) == [own]
    assert ids(filters={"created_before": "2000-01-01T00:00:00Z"}) == []
    assert ids(limit=1) and len(ids(limit=1)) == 1
    assert ids(threshold=0.99) == []
    loose = owner.post("/memories/search", json={"query": "Alice takes insulin", "threshold": 0.5}).json()["items"]
    assert [h["id"] for h in loose] == [seeded["health"]] and loose[0]["score"] >= 0.5

    # archived memories are not searched
    owner.post("/memories/state", json={"ids": [seeded["health"]], "state": "archived"})
    assert seeded["health"] not in ids()

    for body, status in [
        ({"query": ""}, 422), ({"query": "x", "limit": 0}, 422), ({"query": "x", "limit": 101}, 413),
        ({"query": "x", "threshold": 2}, 422), ({"query": "x", "filters": {"apps": ["a/b"]}}, 400),
        ({"query": "x", "filters": {"metadata": {"bad key!": 1}}}, 400), ({"query": "x", "filters": {"nope": 1}}, 422),
        ({"query": "   "}, 400),
    ]:
        r = owner.post("/memories/search", json=body)
        assert r.status_code == status, (body, r.text)


def test_state_changes_single_and_bulk(owner, seeded):
    h, w, b = seeded["health"], seeded["work"], seeded["bike"]
    r = owner.post(f"/memories/{h}/state", json={"action": "pause"})
    assert r.status_code == 200 and r.json() == {"state": "paused", "changed": [h], "unchanged": []}
    r = owner.post("/memories/state", json={"ids": [h, w], "state": "paused"})
    assert r.json() == {"state": "paused", "changed": [w], "unchanged": [h]}
    r = owner.post("/memories/state", json={"ids": [h, w], "action": "resume"})
    assert r.json()["changed"] == [h, w] and r.json()["state"] == "active"

    # all-or-nothing: one deleted memory makes the whole batch illegal
    owner.delete(f"/memories/{b}")
    r = owner.post("/memories/state", json={"ids": [h, w, b], "action": "archive"})
    assert r.status_code == 409 and error_code(r) == "illegal_transition" and r.json()["error"]["details"]["ids"] == [b]
    # ... and one unknown id makes it unknown
    r = owner.post("/memories/state", json={"ids": [h, str(uuid.uuid4())], "action": "archive"})
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = owner.post("/memories/delete", json={"ids": [h, "not-a-uuid"]})
    assert r.status_code == 400 and error_code(r) == "invalid_id"
    states = {m["id"]: m["state"] for m in owner.get("/memories", params=[("state", s) for s in ("active", "archived", "deleted")]).json()["items"]}
    assert states == {h: "active", w: "active", b: "deleted"}

    r = owner.post("/memories/delete", json={"ids": [h, w]})
    assert r.status_code == 200 and sorted(r.json()["changed"]) == sorted([h, w])
    for body in ({"ids": [h]}, {"ids": [h], "state": "active", "action": "pause"}, {"ids": [], "state": "active"},
                 {"ids": [h], "state": "frozen"}, {"ids": [h], "action": "explode"}):
        assert owner.post("/memories/state", json=body).status_code == 422, body
    assert owner.post(f"/memories/{h}/state", json={"state": "active"}).status_code == 409
    r = owner.post("/memories/delete", json={"ids": [str(uuid.uuid4()) for _ in range(1001)]})
    assert r.status_code == 413 and error_code(r) == "too_large"


def test_history_access_related(api, owner, seeded):
    h = seeded["health"]
    owner.patch(f"/memories/{h}", json={"text": "Alice takes insulin every evening"})
    owner.post(f"/memories/{h}/state", json={"action": "archive"})
    owner.post(f"/memories/{h}/state", json={"action": "resume"})
    events = owner.get(f"/memories/{h}/history").json()["items"]
    assert [e["event"] for e in events][0] == "add" and len(events) == 4
    assert [(e["old_state"], e["new_state"]) for e in events[2:]] == [("active", "archived"), ("archived", "active")]
    assert events[1]["old_text"] == "Alice takes insulin every morning" and events[1]["new_text"].endswith("evening")

    cursor = api.as_("alice", app="cursor", scopes=("read",))
    cursor.post("/memories/search", json={"query": "Alice takes insulin", "limit": 1})
    cursor.get(f"/memories/{h}")
    log = owner.get(f"/memories/{h}/access").json()["items"]
    assert [(r["app"], r["op"]) for r in log] == [("cursor", "get"), ("cursor", "search")]
    assert log[1]["query"] == "Alice takes insulin" and log[1]["score"] > 0
    assert owner.get(f"/memories/{h}/access", params={"limit": 1}).json()["items"][0]["op"] == "get"
    assert cursor.get(f"/memories/{h}/access").json()["items"] == log  # its own records
    assert owner.get(f"/memories/{uuid.uuid4()}/access").status_code == 404

    ctx = api.owner_ctx()
    near = ops.add(ctx, "Alice keeps insulin in the fridge").events[0].id
    rel = owner.get(f"/memories/{h}/related", params={"limit": 2}).json()["items"]
    assert rel[0]["id"] == near and h not in {x["id"] for x in rel} and len(rel) == 2
    assert owner.get(f"/memories/{h}/related", params={"limit": 500}).status_code == 413
    for path in ("history", "access", "related"):
        assert owner.get(f"/memories/{uuid.uuid4()}/{path}").status_code == 404


def test_categories_and_stats(api, owner, seeded):
    add(owner, "Alice's second health note about vitamins", categories=["health", "food"])
    owner.post(f"/memories/{seeded['work']}/state", json={"action": "archive"})
    cats = {c["name"]: (c["count"], c["active"]) for c in owner.get("/categories").json()["items"]}
    assert cats == {"health": (2, 2), "work": (1, 0), "hobby": (1, 1), "food": (1, 1)}
    stats = owner.get("/stats").json()
    assert stats["user"] == "alice" and stats["memories"]["total"] == 4
    assert stats["memories"]["by_state"] == {"active": 3, "archived": 1}
    assert stats["index"]["embedder"] == "test/hash-64" and stats["log"]["seq"] >= 5


@pytest.mark.parametrize("route", ["/memories/{id}", "/memories/{id}/history", "/memories/{id}/related", "/memories/{id}/access"])
def test_unknown_and_invalid_ids(owner, route):
    assert owner.get(route.format(id=uuid.uuid4())).status_code == 404
    r = owner.get(route.format(id="not-a-uuid"))
    assert r.status_code == 400 and error_code(r) == "invalid_id"


def test_concurrent_requests(api, owner):
    """Requests run on uvicorn's thread pool: parallel writers and readers on one namespace all succeed."""
    from concurrent.futures import ThreadPoolExecutor

    cursor_token = api.token("alice", "cursor", ("write",))

    def work(i):
        c = api.client(cursor_token if i % 2 else None, **({} if i % 2 else dict(owner.headers)))
        out = [c.post("/memories", json={"text": f"parallel note {i} number {j} {uuid.uuid4().hex}"}).status_code for j in range(5)]
        out += [c.post("/memories/search", json={"query": f"parallel note {i}"}).status_code, c.get("/memories").status_code]
        return out

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for result in pool.map(work, range(8)) for s in result]
    assert statuses.count(201) == 40 and set(statuses) == {200, 201}
    assert owner.get("/memories").json()["total"] == 40
    assert owner.get("/apps/cursor").json()["memories"] == 20
