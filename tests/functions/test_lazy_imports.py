"""A cold MCP container answers ``initialize`` without importing the engine (issue 13, cold start).

duckdb, faiss and numpy (and the model code) cost most of a Lambda cold start's imports; an MCP
client waits for ``initialize`` before anything else, and that answer needs none of them. The
first search does. Nor does it need FastAPI (the MCP function's app is plain Starlette) or, with
tracing off, the X-Ray SDK. Each check runs in a fresh interpreter, as a new execution environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from membucket.auth import TokenStore
from membucket.store import open_store

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "duckdb", "faiss", "membucket.embed.minilm", "membucket.engine.namespace")
NOT_AT_ALL = ("fastapi", "aws_xray_sdk.core")  # never needed by the MCP function with tracing off

_SCRIPT = """
import importlib.util, json, sys
sys.path.insert(0, {root!r})
from tests.support.events import FakeContext, http_event

heavy = lambda: sorted(m for m in {heavy!r} if m in sys.modules)
spec = importlib.util.spec_from_file_location("mcp_app", {app!r})
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
never = lambda: sorted(m for m in {never!r} if m in sys.modules)
seen = {{"import": heavy(), "never_import": never()}}
headers = {{"authorization": "Bearer {token}", "accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18"}}
init = {{"protocolVersion": "2025-06-18", "capabilities": {{}}, "clientInfo": {{"name": "t", "version": "1"}}}}
for name, msg in (("initialize", {{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}}),
                  ("tools/list", {{"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {{}}}}),
                  ("search", {{"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                              "params": {{"name": "search_memory", "arguments": {{"query": "tea"}}}}}})):
    resp = mod.lambda_handler(http_event("POST", "/mcp", msg, headers), FakeContext())
    seen[name] = heavy()
    seen["never_" + name] = never()
    seen[name + "_status"] = resp["statusCode"]
print(json.dumps(seen))
"""


def test_initialize_imports_no_engine_and_a_search_does(tmp_path):
    store = tmp_path / "bucket"
    token, _ = TokenStore(open_store(str(store))).create("alice", None, ["admin"])
    env = {**os.environ, "MEMBUCKET_STORE": str(store), "MEMBUCKET_CACHE_DIR": str(tmp_path / "cache"),
           "POWERTOOLS_SERVICE_NAME": "membucket", "POWERTOOLS_METRICS_NAMESPACE": "membucket", "POWERTOOLS_TRACE_DISABLED": "true",
           "AWS_DEFAULT_REGION": "us-east-1"}
    code = _SCRIPT.format(root=str(ROOT), heavy=HEAVY, never=NOT_AT_ALL, app=str(ROOT / "functions/mcp/app.py"), token=token)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["initialize_status"] == 200 and seen["tools/list_status"] == 200 and seen["search_status"] == 200
    assert seen["import"] == [] and seen["initialize"] == [] and seen["tools/list"] == []
    assert {"numpy", "duckdb", "faiss", "membucket.engine.namespace"} <= set(seen["search"])
    assert seen["never_import"] == seen["never_initialize"] == seen["never_search"] == []
