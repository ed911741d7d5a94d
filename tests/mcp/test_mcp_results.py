"""MCP results a model reads cheaply: one line per hit (id, score, text) beside the structured
content; scores on one 0..1 scale in every mode, the same over REST; tool annotations."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.mcp.test_mcp_http import client

TEXTS = ["Alice prefers window seats on long flights", "Alice flies to Lisbon in May",
         "Bob likes aisle seats", "Alice's seat preference is window, always window seats"]


def test_compact_text_scores_and_annotations(open_server):
    url, _ = open_server

    async def scenario():
        async with client(f"{url}/mcp/claude/http/alice", "auto") as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            for name in ("search_memory", "list_memories", "get_memory"):
                assert tools[name].annotations.read_only_hint is True, name
            for name in ("delete_memories", "delete_all_memories"):
                assert tools[name].annotations.destructive_hint is True and tools[name].annotations.idempotent_hint
            assert tools["add_memories"].annotations.read_only_hint is False
            assert "0 to 1" in tools["search_memory"].description
            for t in TEXTS:
                added = await c.call_tool("add_memories", {"text": t})
                assert added.structured_content["results"][0]["event"] == "ADD"
                assert added.content[0].text.startswith("ADD ")
            for mode in ("dense", "lexical", "hybrid"):
                r = await c.call_tool("search_memory", {"query": "window seats flights", "mode": mode, "limit": 5})
                hits = r.structured_content["results"]
                assert hits and all(0.0 <= h["score"] <= 1.0 for h in hits), (mode, hits)
                lines = r.content[0].text.splitlines()
                assert len(lines) == len(hits)
                for line, h in zip(lines, hits):
                    assert line == f"{h['id']} {h['score']:.2f}: {h['text']}"
                assert len(r.content[0].text) < 120 * len(hits) and "null" not in r.content[0].text
            listed = await c.call_tool("list_memories", {})
            assert listed.content[0].text.splitlines()[-1] == "4 of 4"

    asyncio.run(scenario())


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_rest_scores_are_between_0_and_1(open_server, mode):
    url, _ = open_server
    for t in TEXTS:
        httpx.post(f"{url}/api/v1/memories", json={"text": t})
    hits = httpx.post(f"{url}/api/v1/memories/search", json={"query": "Alice window seats window", "mode": mode}).json()["items"]
    assert hits and all(0.0 <= h["score"] <= 1.0 for h in hits), hits
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
