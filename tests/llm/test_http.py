"""``infer`` over real HTTP (REST and MCP) with the fake LLM; the key never leaves the server's memory."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
import pytest
from membucket.auth import TokenStore
from membucket.caller import ServerState
from membucket.http.app import LOOPBACK_HOSTS, create_app
from membucket.ops.access import ACCESS_WRITER
from membucket.ops.pending import FOLLOW_UP

from tests.mcp.test_mcp_http import call, client
from tests.support.live import live_server

from .conftest import KEY, log_entries


@contextlib.contextmanager
def serving(mb):
    state = ServerState(mb=mb, tokens=TokenStore(mb.store, cache_seconds=10.0), auth_required=True, allowed_hosts=list(LOOPBACK_HOSTS))
    with live_server(create_app(state)) as url:
        yield url, state


@pytest.fixture
def server(make):
    mb = make(categorize_async=True)  # a server: categories are filled on the background thread
    with serving(mb) as (url, state):
        yield url, state, mb


def test_rest_add_with_infer(server, fake):
    url, state, mb = server
    token, _ = state.tokens.create("alice", "cursor", ["write", "read"])
    with httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        r = http.post("/memories", json={"text": "Alice lives in Paris. Alice is allergic to peanuts"})
        assert r.status_code == 201 and [e["event"] for e in r.json()["results"]] == ["ADD"]  # infer defaults to false
        FOLLOW_UP.flush()
        before = len(log_entries(mb))
        r = http.post("/memories", json={"text": "Alice no longer lives in Paris. Alice plays the cello", "infer": True})
        assert r.status_code == 201, r.text
        body = r.json()
        assert sorted(e["event"] for e in body["results"]) == ["ADD", "DELETE"] and body.get("note") is None
        deleted = next(e for e in body["results"] if e["event"] == "DELETE")
        assert deleted["text"] == "Alice lives in Paris. Alice is allergic to peanuts"
        added = next(e for e in body["results"] if e["event"] == "ADD")
        FOLLOW_UP.flush()
        new = log_entries(mb)[before:]  # the infer entry, then the background categories entry
        assert len(new) == 2 and new[1]["ops"] == [{"op": "memory.update", "id": added["id"], "categories": []}]
        got = http.get(f"/memories/{added['id']}").json()
        assert got["text"] == "Alice plays the cello" and got["app"] == "cursor"
        assert http.post("/memories", json={"text": "x", "infer": "maybe"}).status_code == 422


def test_mcp_add_memories_with_infer(server, fake):
    url, state, mb = server
    token, _ = state.tokens.create("alice", "claude", ["write", "read"])

    async def scenario():
        async with client(f"{url}/mcp", "auto", token) as c:
            first = await call(c, "add_memories", {"text": "Bob has a PhD in chemistry. Bob lives in Oslo", "infer": True})
            assert [(e["event"], e["text"]) for e in first["results"]] == [("ADD", "Bob has a PhD in chemistry"), ("ADD", "Bob lives in Oslo")]
            second = await call(c, "add_memories", {"text": "Bob no longer lives in Oslo", "infer": True})
            assert [e["event"] for e in second["results"]] == ["DELETE"]
            assert second["results"][0]["id"] == first["results"][1]["id"]
            fake.chat_fail_next = 10
            third = await call(c, "add_memories", {"text": "Bob likes jazz", "infer": True})
            assert third["results"][0]["event"] == "ADD" and "infer failed" in third["note"]

    asyncio.run(scenario())


def test_the_key_never_appears_in_logs_bucket_or_api(make, fake, caplog):
    caplog.set_level(logging.DEBUG)
    mb = make(categorize_async=True)
    with serving(mb) as (url, state):
        token, _ = state.tokens.create("alice", None, ["admin"])
        with httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            assert http.post("/memories", json={"text": "Alice is allergic to peanuts", "infer": True}).status_code == 201
            fake.chat_fail_next = 3  # failures too: their messages and logs
            r = http.post("/memories", json={"text": "Alice lives in Paris", "infer": True})
            assert r.status_code == 201 and "infer failed" in r.json()["note"]
            FOLLOW_UP.flush()
            cfg = http.get("/config")
            assert cfg.status_code == 200 and cfg.json()["openai_api_key"] == "***"
            assert cfg.json()["llm"] == "openai" and cfg.json()["openai_chat_model"] == "fake-chat"
            assert KEY not in cfg.text
            for path in ("/memories", "/stats", "/categories"):
                assert KEY not in http.get(path).text
    assert fake.headers and all(h["authorization"] == f"Bearer {KEY}" for h in fake.headers)  # it was used...
    ACCESS_WRITER.flush()
    for info in mb.store.list(""):
        assert KEY.encode() not in mb.store.get(info.key).body, info.key  # ...but never stored
    assert caplog.records and KEY not in caplog.text  # ...nor logged
    assert KEY not in "".join(str(r.__dict__) for r in caplog.records)


def test_api_callers_cannot_choose_the_endpoint(server, fake):
    """SSRF: the LLM endpoint is the operator's; no request field, header or route can point it elsewhere."""
    url, state, mb = server
    token, _ = state.tokens.create("alice", None, ["admin"])
    with httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for field, value in [("openai_base_url", "http://169.254.169.254/v1"), ("llm_base_url", "http://169.254.169.254/v1"),
                             ("base_url", "http://169.254.169.254/v1"), ("llm", "openai"), ("openai_chat_model", "x")]:
            r = http.post("/memories", json={"text": "Alice likes tea", "infer": True, field: value})
            assert r.status_code == 422, (field, r.text)
        for method in ("put", "patch", "post"):
            assert getattr(http, method)("/config", json={"llm_base_url": "http://169.254.169.254/v1"}).status_code == 405
        assert http.post("/memories", json={"text": "Alice likes tea", "infer": True},
                         headers={"X-OpenAI-Base-URL": "http://127.0.0.1:9/v1"}).status_code == 201
    assert mb.settings.llm_base_url is None and mb.llm._client.base_url.host == "127.0.0.1"
    assert str(mb.llm._client.base_url).rstrip("/") == fake.url  # still the operator's endpoint, and it answered
    assert fake.chat_requests

    async def scenario():
        async with client(f"{url}/mcp", "auto", token) as c:
            # an extra argument is refused or ignored; either way the endpoint stays the operator's
            await c.call_tool("add_memories", {"text": "Alice likes tea", "infer": True, "base_url": "http://169.254.169.254/v1"})

    asyncio.run(scenario())
    assert str(mb.llm._client.base_url).rstrip("/") == fake.url


def test_doctor_checks_the_llm(make, fake):
    from membucket.doctor import run_checks

    report = run_checks(make())
    check = next(c for c in report["checks"] if c["check"] == "llm")
    assert check["ok"] and check["detail"] == {"model": "fake-chat", "categories": ["preferences"]}
    assert report["config"]["openai_api_key"] == "***" and KEY not in str(report)
    fake.chat_fail_next = 5
    report = run_checks(make())
    assert not report["ok"] and "InternalServerError" in next(c for c in report["checks"] if c["check"] == "llm")["error"]


def test_recategorize_with_the_model_down_is_a_clear_503_and_writes_nothing(server, fake):
    url, state, mb = server
    token, _ = state.tokens.create("alice", None, ["admin"])
    with httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        r = http.post("/memories", json={"text": "Alice is allergic to peanuts", "categories": ["mine"]})
        assert r.status_code in (200, 201), r.text
        entries = len(log_entries(mb))
        fake.chat_fail_next = 100
        r = http.post("/memories/recategorize", json={})
        assert r.status_code == 503 and r.json()["error"]["code"] == "llm_unavailable", r.text
        assert KEY not in r.text
        assert len(log_entries(mb)) == entries
        assert http.get("/memories").json()["items"][0]["categories"] == ["mine"]
