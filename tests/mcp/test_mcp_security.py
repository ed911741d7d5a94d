"""Every MCP security rule, attacked: tokens, scopes, user isolation, paused apps, deny rules."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from membucket import ops

from tests.mcp.test_mcp_http import call, client

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.fixture
def tokens(auth_server, mb):
    url, state = auth_server
    make = state.tokens.create
    return url, state, {
        "alice_cursor": make("alice", "cursor", ["write"])[0],
        "alice_claude": make("alice", "claude", ["write"])[0],
        "alice_read": make("alice", "reader", ["read"])[0],
        "bob_cursor": make("bob", "cursor", ["write"])[0],
    }


def test_missing_invalid_and_revoked_tokens_get_401(tokens):
    url, state, t = tokens
    assert httpx.post(f"{url}/mcp", json=INIT, headers=ACCEPT).status_code == 401
    bad = t["alice_cursor"][:-4] + "AAAA"
    for header in (f"Bearer {bad}", "Bearer mb_nope", "Basic abc", "Bearer"):
        r = httpx.post(f"{url}/mcp", json=INIT, headers={**ACCEPT, "Authorization": header})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token", header
    good = {**ACCEPT, "Authorization": f"Bearer {t['alice_cursor']}"}
    assert httpx.post(f"{url}/mcp", json=INIT, headers=good).status_code == 200
    state.tokens.revoke(t["alice_cursor"].split("_")[1])
    assert httpx.post(f"{url}/mcp", json=INIT, headers=good).status_code == 401


def test_unauthenticated_url_segments_are_not_identity(tokens):
    url, state, t = tokens
    # auth on: OpenMemory's URL form without a token is refused, and cannot switch users
    assert httpx.post(f"{url}/mcp/cursor/http/alice", json=INIT, headers=ACCEPT).status_code == 401
    r = httpx.post(f"{url}/mcp/cursor/http/alice", json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {t['bob_cursor']}"})
    assert r.status_code == 403


def test_users_never_see_each_other(tokens, mb):
    url, state, t = tokens

    async def scenario():
        async with client(f"{url}/mcp", "legacy", t["alice_cursor"]) as a:
            secret = (await call(a, "add_memories", {"text": "Alice's locker code is 4711"}))["results"][0]["id"]
        async with client(f"{url}/mcp", "auto", t["bob_cursor"]) as b:
            assert (await call(b, "search_memory", {"query": "locker code"}))["results"] == []
            assert (await call(b, "list_memories"))["total"] == 0
            for tool, args in (("get_memory", {"memory_id": secret}), ("delete_memories", {"memory_ids": [secret]}),
                               ("update_memory", {"memory_id": secret, "text": "pwned"})):
                with pytest.raises(MCPError) as info:
                    await b.call_tool(tool, args)
                assert info.value.data["code"] == "not_found"
            assert (await call(b, "delete_all_memories"))["deleted"] == []
        return secret

    secret = asyncio.run(scenario())
    assert ops.get(mb.context("alice"), secret).text == "Alice's locker code is 4711"


def test_read_only_token_cannot_write(tokens):
    url, state, t = tokens

    async def scenario():
        async with client(f"{url}/mcp", "legacy", t["alice_read"]) as c:
            await call(c, "search_memory", {"query": "anything"})
            for tool, args in (("add_memories", {"text": "x"}), ("delete_all_memories", {}), ("delete_memories", {"memory_ids": ["6f1c7d36-0f5b-4c4b-9c8e-6b7e3f0b9a11"]})):
                with pytest.raises(MCPError) as info:
                    await c.call_tool(tool, args)
                assert info.value.data["code"] == "insufficient_scope"

    asyncio.run(scenario())


def test_paused_app_is_refused_on_every_tool(tokens, mb):
    url, state, t = tokens
    mid = ops.add(mb.context("alice", app="cursor"), "Alice runs on Sundays").events[0].id
    ops.set_app_paused(mb.context("alice"), "cursor", True)

    async def scenario():
        async with client(f"{url}/mcp", "legacy", t["alice_cursor"]) as c:
            for tool, args in (
                ("search_memory", {"query": "run"}), ("list_memories", {}), ("get_memory", {"memory_id": mid}),
                ("add_memories", {"text": "new"}), ("update_memory", {"memory_id": mid, "text": "x"}),
                ("delete_memories", {"memory_ids": [mid]}), ("delete_all_memories", {}),
            ):
                with pytest.raises(MCPError) as info:
                    await c.call_tool(tool, args)
                assert info.value.data["code"] == "app_paused", tool
        async with client(f"{url}/mcp", "legacy", t["alice_claude"]) as other:  # other apps unaffected
            assert (await call(other, "search_memory", {"query": "Sundays"}))["results"][0]["id"] == mid

    asyncio.run(scenario())
    assert ops.get(mb.context("alice"), mid).state == "active"


def test_deny_rules_hold_for_every_read_tool(tokens, mb):
    url, state, t = tokens
    owner = mb.context("alice")
    health = ops.add(owner, "Alice has asthma", categories=["health"]).events[0].id
    private = ops.add(owner, "Alice's diary entry about Tom").events[0].id
    visible = ops.add(owner, "Alice likes jazz and Alice likes Tom").events[0].id
    ops.add_rule(owner, "cursor", "deny", "category", "health")
    ops.add_rule(owner, "cursor", "deny", "memory", private)

    async def scenario():
        async with client(f"{url}/mcp", "auto", t["alice_cursor"]) as c:
            found = {h["id"] for h in (await call(c, "search_memory", {"query": "Alice asthma diary Tom jazz", "limit": 50}))["results"]}
            assert found == {visible}
            assert {m["id"] for m in (await call(c, "list_memories"))["items"]} == {visible}
            for mid in (health, private):
                with pytest.raises(MCPError):
                    await c.call_tool("get_memory", {"memory_id": mid})
            await call(c, "delete_all_memories")
        ops.add_rule(owner, "claude", "deny", "all")
        async with client(f"{url}/mcp", "legacy", t["alice_claude"]) as c:
            assert (await call(c, "search_memory", {"query": "Alice"}))["results"] == []
            assert (await call(c, "list_memories"))["total"] == 0
            with pytest.raises(MCPError) as info:
                await c.call_tool("add_memories", {"text": "sneaky"})
            assert info.value.data["code"] == "access_denied"

    asyncio.run(scenario())
    states = {m.id: m.state for m in ops.list_memories(owner, filters=ops.Filters(states=["active", "deleted"])).items}
    assert states == {health: "active", private: "active", visible: "deleted"}
