"""Two containers (two replica caches in two /tmp directories) interleave writes and see each other's."""

from __future__ import annotations

from pathlib import Path

from .conftest import call

FACTS = [
    "Alice's daughter is called Maya",
    "The team standup moved to 9:30 on Tuesdays",
    "Alice prefers window seats on long flights",
    "The staging database password rotates every 30 days",
    "Alice is learning to play the cello",
    "Invoices are due on the fifth business day of the month",
]


def texts(fn, token, query="notes"):
    status, body = call(fn, "POST", "/api/v1/memories/search", {"query": query, "limit": 20}, token)
    assert status == 200, body
    return sorted(h["text"] for h in body["items"])


def test_interleaved_writes_across_containers(bucket, tokens, load):
    token, _ = tokens.create("alice", None, ["admin"])
    add_a, add_b = load("add", "a"), load("add", "b")
    search_a, search_b = load("search", "a"), load("search", "b")
    facts = iter(FACTS)
    expected = []
    for _ in range(3):
        for fn in (add_a, add_b):
            text = next(facts)
            status, body = call(fn, "POST", "/api/v1/memories", {"text": text}, token)
            assert status == 201 and body["results"][0]["event"] == "ADD", body
            expected.append(text)
            # each container's reader sees every commit so far, whichever container made it
            assert texts(search_a, token) == sorted(expected)
            assert texts(search_b, token) == sorted(expected)


def test_cold_start_loads_checkpoint_then_tail(bucket, tokens, load, tmp_path):
    token, _ = tokens.create("alice", None, ["admin"])
    add = load("add", "writer", MEMBUCKET_COMPACT_AFTER="3")
    for text in FACTS[:5]:  # entries 1-3 become a checkpoint; 4-5 stay in the log tail
        assert call(add, "POST", "/api/v1/memories", {"text": text}, token)[0] == 201
    search = load("search", "fresh")  # a new container: empty /tmp
    assert len(texts(search, token)) == 5
    objects = list(Path(tmp_path / "tmp-fresh" / "membucket-cache").rglob("*"))
    assert any(p.is_file() and p.stat().st_size > 0 for p in objects), "checkpoint files cached in /tmp"
    # warm: a write elsewhere shows up on the next request (one LIST), without a reload
    assert call(add, "POST", "/api/v1/memories", {"text": FACTS[5]}, token)[0] == 201
    assert len(texts(search, token)) == 6
