"""The MCP tool schemas advertise the integer and list limits the operations enforce (the errors
themselves, with their REST codes: tests/mcp/test_mcp_errors.py)."""

from __future__ import annotations

import asyncio

from tests.mcp.test_mcp_http import client


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
