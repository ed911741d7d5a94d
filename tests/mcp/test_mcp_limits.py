"""MCP integer and list limits (search and list limits, id lists) come back as JSON-RPC errors
carrying the REST code, as the text limits do; the tool schemas still advertise the bounds."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.mcp.test_mcp_errors import _error
from tests.mcp.test_mcp_http import client

IDS = [str(uuid.uuid4()) for _ in range(1001)]


@pytest.mark.parametrize(("tool", "args", "code"), [
    ("search_memory", {"query": "tea", "limit": 0}, "invalid_input"),
    ("search_memory", {"query": "tea", "limit": -3}, "invalid_input"),
    ("search_memory", {"query": "tea", "limit": 101}, "too_large"),
    ("list_memories", {"limit": 0}, "invalid_input"),
    ("list_memories", {"limit": 1001}, "too_large"),
    ("list_memories", {"cursor": "x" * 1001}, "invalid_input"),
    ("delete_memories", {"memory_ids": []}, "invalid_input"),
    ("delete_memories", {"memory_ids": IDS}, "too_large"),
])
def test_limits_carry_the_rest_code(open_server, tool, args, code):
    url, _ = open_server

    async def scenario():
        async with client(f"{url}/mcp/claude/http/alice", "auto") as c:
            err = await _error(c, tool, args)
            assert err.error.data["code"] == code, err.error
            assert "pydantic" not in err.error.message and code in err.error.message
            if code == "too_large":
                assert err.error.data["details"]["limit"] in (100, 1000)

    asyncio.run(scenario())


def test_tool_schemas_state_the_limits(open_server):
    url, _ = open_server

    async def scenario():
        async with client(f"{url}/mcp/claude/http/alice", "auto") as c:
            tools = {t.name: t.input_schema for t in (await c.list_tools()).tools}
        search = tools["search_memory"]["properties"]["limit"]
        assert (search["minimum"], search["maximum"]) == (1, 100)
        listing = tools["list_memories"]["properties"]["limit"]
        assert (listing["minimum"], listing["maximum"]) == (1, 1000)
        ids = tools["delete_memories"]["properties"]["memory_ids"]
        assert (ids["minItems"], ids["maxItems"]) == (1, 1000)

    asyncio.run(scenario())
