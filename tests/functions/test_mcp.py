"""functions/mcp: initialize, tools/list and tools/call, twice in one warm container."""

from __future__ import annotations

from .conftest import call

PROTOCOL = {"mcp-protocol-version": "2025-06-18"}


def rpc(fn, token, method, params=None, id=1, path="/mcp"):
    status, body = call(fn, "POST", path, {"jsonrpc": "2.0", "id": id, "method": method, "params": params or {}}, token, PROTOCOL)
    assert status == 200, body
    return body


def test_initialize_list_call_twice_warm(bucket, tokens, load):
    token, _ = tokens.create("alice", "claude", ["write"])
    mcp = load("mcp")
    facts = ["Alice plays chess on Sundays", "Alice's chess club meets in the library"]
    for round_ in range(2):  # the second round runs in the warm container
        init = rpc(mcp, token, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})
        assert init["result"]["serverInfo"]["name"] == "membucket"
        names = {t["name"] for t in rpc(mcp, token, "tools/list", id=2)["result"]["tools"]}
        assert {"add_memories", "search_memory", "list_memories", "delete_memories"} <= names
        added = rpc(mcp, token, "tools/call", {"name": "add_memories", "arguments": {"text": facts[round_]}}, id=3)
        assert added["result"]["structuredContent"]["results"][0]["event"] == "ADD"
        found = rpc(mcp, token, "tools/call", {"name": "search_memory", "arguments": {"query": "chess"}}, id=4)
        hits = found["result"]["structuredContent"]["results"]
        assert len(hits) == round_ + 1


def test_openmemory_url_form_and_wrong_user(bucket, tokens, load):
    token, _ = tokens.create("alice", None, ["write"])
    mcp = load("mcp")
    body = rpc(mcp, token, "tools/list", path="/mcp/cursor/http/alice")
    assert body["result"]["tools"]
    status, body = call(mcp, "POST", "/mcp/cursor/http/bob", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token, PROTOCOL)
    assert status == 403


def test_unknown_tool_is_an_mcp_error(bucket, tokens, load):
    token, _ = tokens.create("alice", "claude", ["write"])
    body = rpc(load("mcp"), token, "tools/call", {"name": "no_such_tool", "arguments": {}})
    assert "error" in body or body["result"].get("isError")


def test_openmemory_sse_urls_name_the_streamable_http_url(bucket, tokens, load):
    token, _ = tokens.create("alice", "cursor", ["write"])
    mcp = load("mcp")
    for method, path in (("GET", "/mcp/cursor/sse/alice"), ("POST", "/mcp/messages/"), ("POST", "/mcp/cursor/sse/alice/messages/")):
        status, body = call(mcp, method, path, {} if method == "POST" else None, token, query="session_id=abc")
        assert status == 404, (path, body)
        assert body["error"]["code"] == "sse_not_supported"
        assert "/http/" in body["error"]["message"] or path.startswith("/mcp/messages")
    status, body = call(mcp, "GET", "/mcp/cursor/sse/alice", None, token)
    assert body["error"]["details"]["streamable_http_url"] == "/mcp/cursor/http/alice"
