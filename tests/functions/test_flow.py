"""add -> search -> state change -> search (paused memory gone) -> export, each through its own function."""

from __future__ import annotations

import json

from .conftest import call, emf_blobs


def test_add_search_pause_search_export(bucket, tokens, load, stdout):
    token, _ = tokens.create("alice", None, ["admin"])
    add, search, state = (load(n) for n in ("add", "search", "state"))
    export = load("export", MEMBUCKET_EXPORT_STORE=f"s3://{bucket}/exports")

    status, body = call(add, "POST", "/api/v1/memories", {"text": "Alice is allergic to peanuts"}, token)
    assert status == 201, body
    peanut = body["results"][0]["id"]
    status, body = call(add, "POST", "/api/v1/memories", {"text": "Alice's favourite city is Lisbon"}, token)
    assert status == 201, body

    status, body = call(search, "POST", "/api/v1/memories/search", {"query": "peanut allergy", "limit": 5}, token)
    assert status == 200, body
    assert body["items"][0]["id"] == peanut

    status, body = call(state, "POST", f"/api/v1/memories/{peanut}/state", {"state": "paused"}, token)
    assert status == 200 and body["changed"] == [peanut], body

    status, body = call(search, "POST", "/api/v1/memories/search", {"query": "peanut allergy", "limit": 5}, token)
    assert status == 200
    assert peanut not in [h["id"] for h in body["items"]]
    assert body["items"] and "Lisbon" in body["items"][0]["text"]

    status, body = call(export, "POST", "/api/v1/export", {}, token)
    assert status == 200 and body["manifest"]["counts"]["memories"] == 2 and body["url"], body

    out = stdout()
    metrics = emf_blobs(out)
    by_fn = {}
    for m in metrics:
        if "function" in m:  # the ColdStart metric comes in a document of its own
            by_fn.setdefault(m["function"], []).append(m)
    assert [m["Commits"] for m in by_fn["add"]] == [1, 1]
    assert by_fn["state"][0]["Commits"] == 1
    assert all("SearchLatency" in m for m in by_fn["search"])
    assert by_fn["search"][1]["ReplicaCacheHits"] >= 1  # warm: the replica from the first search
    # one structured access line per request, with the API Gateway request id as correlation id
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"request"' in line]
    assert {(r["function"], r["status"]) for r in lines} >= {("add", 201), ("search", 200), ("state", 200), ("export", 200)}
    assert all(r["correlation_id"] for r in lines)
    assert "peanut" not in "".join(json.dumps(r) for r in lines)  # bodies are never logged


def test_auth_is_required(bucket, load):
    add = load("add")
    status, body = call(add, "POST", "/api/v1/memories", {"text": "no token"})
    assert status == 401 and body["error"]["code"] in ("invalid_token", "unauthorized")
    status, body = call(add, "POST", "/api/v1/memories", {"text": "bad token"}, "mb_0123456789abcdef_" + "x" * 40)
    assert status == 401


def test_bad_input_is_a_4xx_not_a_500(bucket, tokens, load):
    token, _ = tokens.create("alice", None, ["admin"])
    state = load("state")
    status, body = call(state, "POST", "/api/v1/memories/not-a-uuid/state", {"state": "paused"}, token)
    assert 400 <= status < 500, body
    status, body = call(state, "POST", "/api/v1/memories/state", "{not json", token)
    assert 400 <= status < 500, body
