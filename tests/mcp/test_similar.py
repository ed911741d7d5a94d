"""An add beside a near duplicate names it (``similar``) over REST and MCP, and both facts stay."""

from __future__ import annotations

import asyncio

import httpx

from tests.mcp.test_mcp_http import call, client


def test_similar_over_rest_and_mcp(open_server, mb):
    url, _ = open_server
    mb.settings.near_duplicate_threshold = 0.3  # the hash test embedder: make the pair "near"
    first = httpx.post(f"{url}/api/v1/memories", json={"text": "Alice has 2 cats"}).json()["results"][0]
    second = httpx.post(f"{url}/api/v1/memories", json={"text": "Alice has 3 cats"}).json()["results"][0]
    assert second["event"] == "ADD" and second["similar"] == [first["id"]]

    async def scenario():
        async with client(f"{url}/mcp/claude/http/default", "auto") as c:
            added = await call(c, "add_memories", {"text": "Alice has 4 cats"})
            ev = added["results"][0]
            assert ev["event"] == "ADD" and set(ev["similar"]) >= {first["id"], second["id"]}

    asyncio.run(scenario())
    texts = {m["text"] for m in httpx.get(f"{url}/api/v1/memories").json()["items"]}
    assert texts == {"Alice has 2 cats", "Alice has 3 cats", "Alice has 4 cats"}
