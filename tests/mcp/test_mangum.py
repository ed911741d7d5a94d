"""The same ASGI app under Mangum, driven by API Gateway HTTP API v2 events (the Lambda path)."""

from __future__ import annotations

import pytest
from mangum import Mangum
from membucket.http.app import create_app
from membucket.http.serve import build_state

from tests.support.events import FakeContext, http_event, response_json

HOST = "abc123.execute-api.us-east-1.amazonaws.com"


@pytest.fixture
def handler_and_token(mb):
    mb.settings.allowed_hosts = [HOST]
    state = build_state(mb, "0.0.0.0", auth=True)
    token, _ = state.tokens.create("alice", "claude", ["write"])
    return Mangum(create_app(state), lifespan="off"), token


def rpc(handler, token, method, params=None, id=1):
    body = {"jsonrpc": "2.0", "id": id, "method": method, "params": params or {}}
    resp = handler(http_event("POST", "/mcp", body, {"authorization": f"Bearer {token}", "mcp-protocol-version": "2025-06-18"}), FakeContext())
    assert resp["statusCode"] == 200, resp
    return response_json(resp)


def test_mcp_initialize_list_and_call_twice_warm(handler_and_token):
    handler, token = handler_and_token
    init = rpc(handler, token, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "lambda-test", "version": "1"}})
    assert init["result"]["serverInfo"]["name"] == "membucket"
    tools = rpc(handler, token, "tools/list")["result"]["tools"]
    assert "search_memory" in {t["name"] for t in tools}
    first = rpc(handler, token, "tools/call", {"name": "add_memories", "arguments": {"text": "Alice flies to Oslo on Friday"}})
    assert first["result"]["structuredContent"]["results"][0]["event"] == "ADD"
    # a second call in the same warm container: the per-request session manager must not be reused
    second = rpc(handler, token, "tools/call", {"name": "search_memory", "arguments": {"query": "Oslo trip"}}, id=2)
    assert second["result"]["structuredContent"]["results"][0]["text"] == "Alice flies to Oslo on Friday"
    third = rpc(handler, token, "tools/call", {"name": "search_memory", "arguments": {"query": "Oslo"}}, id=3)
    assert third["result"]["structuredContent"]["results"]


def test_lambda_auth_and_host_checks(handler_and_token):
    handler, token = handler_and_token
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    assert handler(http_event("POST", "/mcp", body), FakeContext())["statusCode"] == 401
    r = handler(http_event("POST", "/mcp", body, {"authorization": f"Bearer {token}"}, host="evil.example.com"), FakeContext())
    assert r["statusCode"] == 421


def test_mangum_serves_rest_too(handler_and_token, mb):
    handler, token = handler_and_token
    from membucket import ops

    ops.add(mb.context("alice", app="claude"), "Alice keeps bees")
    r = handler(http_event("GET", "/openapi.json"), FakeContext())
    assert r["statusCode"] == 200 and response_json(r)["info"]["title"] == "membucket"
