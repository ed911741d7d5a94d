"""OpenMemory's legacy SSE URLs over real HTTP with the mcp SDK's ``sse_client``: same user/app
semantics and auth rules as ``/mcp/<client>/http/<user>``, both POST forms, sessions held per caller."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from membucket import ops

from tests.mcp.test_mcp_http import call


@contextlib.asynccontextmanager
async def sse(url: str, token: str | None = None):
    from mcp import Client
    from mcp.client.sse import sse_client

    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with Client(sse_client(url, headers=headers), mode="legacy") as c:
        yield c


def test_sse_url_acts_as_the_urls_user_and_app(open_server, mb):
    url, _ = open_server

    async def scenario():
        async with sse(f"{url}/mcp/cursor/sse/alice") as c:
            added = await call(c, "add_memories", {"text": "Alice keeps bees in the garden"})
            mid = added["results"][0]["id"]
            hits = (await call(c, "search_memory", {"query": "bees"}))["results"]
            assert [h["id"] for h in hits] == [mid]
        async with sse(f"{url}/mcp/claude/sse/bob") as b:  # another user sees nothing of alice's
            assert (await call(b, "search_memory", {"query": "bees"}))["results"] == []
            assert (await call(b, "list_memories"))["total"] == 0
        return mid

    mid = asyncio.run(scenario())
    memory = ops.get(mb.context("alice"), mid)
    assert memory.app == "cursor" and memory.text == "Alice keeps bees in the garden"


def test_paused_app_is_refused_over_sse(open_server, mb):
    url, _ = open_server
    ops.add(mb.context("alice", app="cursor"), "Alice runs on Sundays")
    ops.set_app_paused(mb.context("alice"), "cursor", True)

    async def scenario():
        async with sse(f"{url}/mcp/cursor/sse/alice") as c:
            for tool, args in (("search_memory", {"query": "run"}), ("add_memories", {"text": "new"})):
                with pytest.raises(MCPError) as info:
                    await c.call_tool(tool, args)
                assert info.value.data["code"] == "app_paused", tool
        async with sse(f"{url}/mcp/claude/sse/alice") as other:  # other apps unaffected
            assert (await call(other, "search_memory", {"query": "Sundays"}))["results"]

    asyncio.run(scenario())


def _open_session(url: str, path: str, headers: dict | None = None) -> tuple[httpx.Client, object, str]:
    """GET the event stream by hand and read the endpoint event: (client, open stream, POST URI).
    The stream stays open while the returned client holds its line iterator."""
    http = httpx.Client(base_url=url, timeout=10, headers=headers or {})
    stream = http.stream("GET", path)
    response = stream.__enter__()
    assert response.status_code == 200, response.read()
    lines = response.iter_lines()
    for line in lines:
        if line.startswith("data: "):
            http._membucket_lines = lines  # closing the iterator would close the stream
            return http, stream, line[len("data: "):]
    raise AssertionError("no endpoint event")


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def test_both_post_forms_and_foreign_sessions(open_server):
    url, _ = open_server
    http, stream, post_to = _open_session(url, "/mcp/cursor/sse/alice")
    try:
        assert post_to.startswith("/mcp/messages/?session_id=")
        session = post_to.split("=", 1)[1]
        r = http.post(post_to, json=INIT)
        assert r.status_code == 202, r.text
        r = http.post(f"/mcp/cursor/sse/alice/messages/?session_id={session}", json=INITIALIZED)
        assert r.status_code == 202, r.text
        # another user's URL can't post into alice's session; unknown sessions are 404 with a code
        r = http.post(f"/mcp/cursor/sse/bob/messages/?session_id={session}", json=INIT)
        assert r.status_code == 404 and r.json()["error"]["code"] == "session_not_found"
        r = http.post("/mcp/messages/?session_id=0123456789abcdef0123456789abcdef", json=INIT)
        assert r.status_code == 404 and r.json()["error"]["code"] == "session_not_found"
        assert http.post("/mcp/messages/?session_id=nope", json=INIT).status_code == 404
    finally:
        stream.__exit__(None, None, None)
        http.close()


@pytest.fixture
def tokens(auth_server):
    url, state = auth_server
    make = state.tokens.create
    return url, {
        "alice_cursor": make("alice", "cursor", ["write"])[0],
        "bob_cursor": make("bob", "cursor", ["write"])[0],
    }


def test_auth_on_the_token_decides(tokens, mb):
    url, t = tokens
    r = httpx.get(f"{url}/mcp/cursor/sse/alice", timeout=10)  # no token: 401, before any stream opens
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.get(f"{url}/mcp/cursor/sse/alice", headers={"Authorization": f"Bearer {t['bob_cursor']}"}, timeout=10)
    assert r.status_code == 403  # bob's token can't open alice's URL

    async def scenario():
        async with sse(f"{url}/mcp/cursor/sse/alice", t["alice_cursor"]) as a:
            return (await call(a, "add_memories", {"text": "Alice's locker code is 4711"}))["results"][0]["id"]

    secret = asyncio.run(scenario())
    assert ops.get(mb.context("alice"), secret).app == "cursor"

    http, stream, post_to = _open_session(url, "/mcp/cursor/sse/alice", {"Authorization": f"Bearer {t['alice_cursor']}"})
    try:
        assert http.post(post_to, json=INIT).status_code == 202
        assert httpx.post(url + post_to, json=INIT).status_code == 401  # the POST needs the token too
        r = httpx.post(url + post_to, json=INIT, headers={"Authorization": f"Bearer {t['bob_cursor']}"})
        assert r.status_code == 404  # bob can't post into alice's session
    finally:
        stream.__exit__(None, None, None)
        http.close()
