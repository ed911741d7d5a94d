"""An independent MCP client: the MCP Inspector CLI (node), against the live server."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

INSPECTOR = ["npx", "--yes", "@modelcontextprotocol/inspector@0.15.0", "--cli"]

pytestmark = pytest.mark.skipif(shutil.which("npx") is None, reason="node/npx not installed (CI installs it)")


def inspector(url: str, *args: str) -> dict:
    proc = subprocess.run([*INSPECTOR, url, "--transport", "http", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow  # ~13 s: npx starts the Inspector CLI
@pytest.mark.timeout(600)
def test_inspector_lists_tools_adds_and_searches(open_server):
    url, _ = open_server
    endpoint = f"{url}/mcp/inspector/http/alice"
    tools = inspector(endpoint, "--method", "tools/list")
    assert {"add_memories", "search_memory"} <= {t["name"] for t in tools["tools"]}
    added = inspector(endpoint, "--method", "tools/call", "--tool-name", "add_memories", "--tool-arg", "text=Alice collects vinyl records")
    assert added["structuredContent"]["results"][0]["event"] == "ADD"
    found = inspector(endpoint, "--method", "tools/call", "--tool-name", "search_memory", "--tool-arg", "query=vinyl records")
    assert found["structuredContent"]["results"][0]["text"] == "Alice collects vinyl records"
