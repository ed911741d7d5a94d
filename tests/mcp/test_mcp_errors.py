"""MCP input errors are JSON-RPC errors carrying the REST code, seen through the SDK over real HTTP."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.mcp.test_mcp_http import client

TOO_LONG = "x" * 16_001
IDS = [str(uuid.uuid4()) for _ in range(1001)]


async def _error(c, tool, args):
    from mcp.shared.exceptions import MCPError

    with pytest.raises(MCPError) as info:
        r = await c.call_tool(tool, args)
        raise AssertionError(f"no error: {r}")
    return info.value


@pytest.mark.parametrize(("tool", "args", "code", "limit"), [
    ("add_memories", {"text": ""}, "empty_text", None),
    ("add_memories", {"text": "   \n\t "}, "empty_text", None),
    ("add_memories", {"text": TOO_LONG}, "too_large", 16_000),
    ("search_memory", {"query": ""}, "empty_text", None),
    ("get_memory", {"memory_id": "not-an-id"}, "invalid_id", None),
    ("get_memory", {"memory_id": "x" * 200}, "invalid_id", None),
    ("update_memory", {"memory_id": "not-an-id", "text": "t"}, "invalid_id", None),
    # integer and list limits (search and list limits, id lists), checked by the operations
    ("search_memory", {"query": "tea", "limit": 0}, "invalid_input", None),
    ("search_memory", {"query": "tea", "limit": -3}, "invalid_input", None),
    ("search_memory", {"query": "tea", "limit": 101}, "too_large", 100),
    ("list_memories", {"limit": 0}, "invalid_input", None),
    ("list_memories", {"limit": 1001}, "too_large", 1000),
    ("list_memories", {"cursor": "x" * 1001}, "invalid_input", None),
    ("delete_memories", {"memory_ids": []}, "invalid_input", None),
    ("delete_memories", {"memory_ids": IDS}, "too_large", 1000),
])
def test_input_errors_carry_the_rest_code(open_server, tool, args, code, limit):
    url, _ = open_server

    async def scenario():
        async with client(f"{url}/mcp/claude/http/alice", "auto") as c:
            err = await _error(c, tool, args)
            assert err.error.data["code"] == code, err.error
            assert "pydantic" not in err.error.message and code in err.error.message
            if limit is not None:
                assert err.error.data["details"]["limit"] == limit

    asyncio.run(scenario())


def test_a_1mb_body_is_a_jsonrpc_error_the_sdk_shows(open_server):
    url, state = open_server

    async def scenario():
        async with client(f"{url}/mcp/claude/http/alice", "auto") as c:
            err = await _error(c, "add_memories", {"text": "y" * 1_000_000})
            assert err.error.data["code"] == "too_large" and "too_large" in err.error.message

    asyncio.run(scenario())
