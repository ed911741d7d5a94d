"""The MCP endpoint over real HTTP with the mcp SDK's client, in both protocol eras."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from membucket import ops

MODES = ["legacy", "auto"]  # initialize-first clients, and the current protocol (server/discover)


def client(url: str, mode: str, token: str | None = None):
    """The SDK's client; with a token, over an HTTP client that sends it."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    if token is None:
        return Client(url, mode=mode)
    import httpx2

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(streamable_http_client(url, http_client=http), mode=mode)


def run(coro):
    return asyncio.run(coro)


async def call(c, tool, args=None):
    r = await c.call_tool(tool, args or {})
    assert not r.is_error, r
    return r.structured_content


@pytest.mark.parametrize("mode", MODES)
def test_full_tool_cycle(open_server, mode, mb):
    url, _ = open_server

    async def scenario():
        async with client(f"{url}/mcp/cursor/http/alice", mode) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert {"add_memories", "search_memory", "list_memories", "delete_memories", "delete_all_memories", "get_memory", "update_memory"} <= set(tools)
            assert tools["search_memory"].input_schema["required"] == ["query"]
            assert tools["add_memories"].description and tools["add_memories"].output_schema
            added = await call(c, "add_memories", {"text": "Alice prefers window seats on long flights"})
            mid = added["results"][0]["id"]
            assert added["results"][0]["event"] == "ADD"
            await call(c, "add_memories", {"text": "Alice's sister lives in Porto", "metadata": {"source": "chat"}})
            found = await call(c, "search_memory", {"query": "window seats flights", "limit": 5})
            assert found["results"][0]["id"] == mid and found["results"][0]["app"] == "cursor"
            for search_mode in ("dense", "lexical", "hybrid"):
                by_mode = await call(c, "search_memory", {"query": "window seats", "mode": search_mode})
                assert by_mode["results"][0]["id"] == mid, search_mode
            assert tools["search_memory"].input_schema["properties"]["mode"]["description"]
            listed = await call(c, "list_memories", {"limit": 10})
            assert listed["total"] == 2
            assert (await call(c, "get_memory", {"memory_id": mid}))["text"].startswith("Alice prefers")
            deleted = await call(c, "delete_memories", {"memory_ids": [mid]})
            assert deleted["deleted"] == [mid]
            assert (await call(c, "list_memories"))["total"] == 1
            everything = await call(c, "delete_all_memories")
            assert len(everything["deleted"]) == 1
            assert (await call(c, "search_memory", {"query": "Porto"}))["results"] == []

    run(scenario())
    # the same memory, seen through the library: attributed to the URL's client, in the URL's user
    owner = mb.context("alice")
    page = ops.list_memories(owner, filters=ops.Filters(states=["deleted"]))
    assert page.total == 2 and {m.app for m in page.items} == {"cursor"}
    assert {a.name for a in ops.list_apps(owner)} == {"cursor"}
    assert any(r.op == "search" for r in ops.access_log(owner, app="cursor"))


@pytest.mark.parametrize("mode", MODES)
def test_errors_are_mcp_errors(open_server, mode):
    from mcp.shared.exceptions import MCPError

    url, _ = open_server

    async def scenario():
        async with client(f"{url}/mcp/cursor/http/alice", mode) as c:
            with pytest.raises(MCPError) as info:
                await c.call_tool("get_memory", {"memory_id": "../../etc/passwd"})
            assert info.value.code == -32602 and info.value.data["code"] == "invalid_id"
            with pytest.raises(MCPError) as info:
                await c.call_tool("delete_memories", {"memory_ids": ["6f1c7d36-0f5b-4c4b-9c8e-6b7e3f0b9a11"]})
            assert info.value.data == {"code": "not_found", "status": 404, "details": {"ids": ["6f1c7d36-0f5b-4c4b-9c8e-6b7e3f0b9a11"]}}
            r = None
            with contextlib.suppress(MCPError):  # a protocol error, or an error result: never a success
                r = await c.call_tool("no_such_tool", {})
            assert r is None or r.is_error
            r = None
            with contextlib.suppress(MCPError):
                r = await c.call_tool("add_memories", {"text": ""})
            assert r is None or r.is_error  # schema validation: min_length

    run(scenario())


def test_malformed_json_rpc_is_a_client_error(open_server):
    url, _ = open_server
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    for body in (b"{not json", b'{"jsonrpc": "2.0"}', b"[]"):
        r = httpx.post(f"{url}/mcp/cursor/http/alice", content=body, headers=headers)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)


@pytest.mark.parametrize("path", ["/mcp/cursor/http/..%2Fbob", "/mcp/cur%2Fsor/http/alice", "/mcp/cursor/http/a..b"])
def test_path_like_ids_in_the_url_are_refused(open_server, path):
    url, _ = open_server
    r = httpx.post(url + path, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers={"Accept": "application/json, text/event-stream"})
    assert r.status_code in (400, 404) and r.status_code != 500


def test_dns_rebinding_host_is_refused(open_server):
    url, _ = open_server
    r = httpx.post(f"{url}/mcp", json={}, headers={"Host": "evil.example.com"})
    assert r.status_code == 421 and r.json()["error"]["code"] == "misdirected_request"
    r = httpx.post(f"{url}/mcp", json={}, headers={"Origin": "http://evil.example.com"})
    assert r.status_code == 403


@pytest.mark.parametrize("path", ["/mcp", "/mcp/cursor/http/alice"])
def test_a_get_for_an_sse_stream_is_answered_405_at_once(open_server, path):
    """Streamable-HTTP clients GET the endpoint for a server stream; with none, 405 (never a hang:
    under Lambda that GET ran to the function's timeout)."""
    url, _ = open_server
    r = httpx.get(url + path, headers={"Accept": "text/event-stream"}, timeout=5)
    assert r.status_code == 405 and r.headers["allow"] == "POST, DELETE"
    assert r.json()["error"]["code"] == "method_not_allowed"
