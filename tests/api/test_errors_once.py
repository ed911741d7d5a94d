"""A store failure shows the same code on REST and MCP: both map it through ops.failures."""

from __future__ import annotations

import asyncio

import pytest
from mcp.shared.exceptions import MCPError
from membucket import ops
from membucket.auth import Identity
from membucket.mcp.tools import CALLER, _call
from membucket.store import StoreError, Unavailable

from .conftest import error_code

CASES = [(Unavailable("injected: store down"), "store_unavailable"), (StoreError("injected: access denied"), "store_error")]


@pytest.mark.parametrize("exc, code", CASES, ids=[c for _, c in CASES])
def test_a_store_failure_has_one_code_on_rest_and_mcp(api, owner, exc, code):
    store = api.mb.store
    original = store.list, store.get

    def failing(*a, **k):
        raise exc

    store.list = store.get = failing  # a sync reads the log by name (GET); readiness LISTs
    try:
        r = owner.get("/memories")
        assert r.status_code == 503 and r.headers["Retry-After"] == "1" and error_code(r) == code

        async def mcp_list():
            CALLER.set((api.state, Identity(user="alice", app=None, scopes=frozenset({"admin"})), None))
            return await _call("read", ops.list_memories)

        with pytest.raises(MCPError) as info:
            asyncio.run(mcp_list())
        assert info.value.data == {"code": code, "status": 503}
    finally:
        store.list, store.get = original
