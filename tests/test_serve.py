"""`membucket serve` as a user runs it: a real process, its banner, the binding and auth rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from membucket.clients import TOKEN_PLACEHOLDER, server_entry
from membucket.http.serve import ServeRefused, banner, build_state, is_loopback

from tests.support.factories import make_mb
from tests.support.live import free_port


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_non_loopback_without_auth_is_refused(tmp_path, host):
    mb = make_mb(str(tmp_path / "b"), tmp_path / "c")
    with pytest.raises(ServeRefused, match="without authentication"):
        build_state(mb, host, auth=None)
    with pytest.raises(ServeRefused):
        build_state(mb, host, auth=False)
    assert build_state(mb, host, auth=True).auth_required


def test_loopback_defaults_to_auth_off_with_the_cli_default_user(tmp_path):
    mb = make_mb(str(tmp_path / "b"), tmp_path / "c", user="carol")
    state = build_state(mb, "127.0.0.1")
    assert not state.auth_required and state.default_user == "carol"
    assert "127.0.0.1:*" in state.allowed_hosts and "localhost:*" in state.allowed_hosts
    assert build_state(mb, "127.0.0.1", auth=True).auth_required
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("10.0.0.1")


def test_snippets_carry_the_url_and_token():
    e = server_entry("claude", "https://memory.example.com/mcp", "mb_x_y")
    assert e["args"][2] == "https://memory.example.com/mcp" and e["env"] == {"AUTH_HEADER": "Bearer mb_x_y"}
    assert server_entry("cursor", "http://localhost:8765/mcp", "mb_x_y")["headers"] == {"Authorization": "Bearer mb_x_y"}


def banner_snippets(text: str) -> dict[str, str]:
    """The banner's client section: client name -> the line under it (a JSON document or a command)."""
    lines = text.split("Or paste yours", 1)[1].splitlines()[1:]
    return {lines[i].strip().split(" - ")[0]: lines[i + 1].strip() for i in range(0, len(lines), 2)}


@pytest.mark.parametrize("auth", [False, True])
def test_banner_has_one_pasteable_snippet_per_client(tmp_path, auth):
    mb = make_mb(str(tmp_path / "b"), tmp_path / "c", user="dana")
    host = "0.0.0.0" if auth else "127.0.0.1"
    text = banner(mb, build_state(mb, host, auth=auth), host, 8765)
    snippets = banner_snippets(text)
    assert list(snippets) == ["Claude Desktop", "Claude Code", "Cursor", "Windsurf", "VS Code"]
    docs = {name: json.loads(line) for name, line in snippets.items() if name != "Claude Code"}  # each parses on its own
    assert set(docs["VS Code"]) == {"servers"} and all(set(d) == {"mcpServers"} for n, d in docs.items() if n != "VS Code")
    assert snippets["Claude Code"].startswith("claude mcp add --transport http --scope user membucket http")
    urls = [docs["Cursor"]["mcpServers"]["membucket"]["url"], docs["Windsurf"]["mcpServers"]["membucket"]["serverUrl"]]
    if auth:
        assert all(u.endswith(":8765/mcp") for u in urls) and TOKEN_PLACEHOLDER in str(docs)
        assert "membucket connect claude|claude-code|cursor|windsurf|vscode --url http://" in text and f"--token {TOKEN_PLACEHOLDER}" in text
    else:
        assert urls == ["http://localhost:8765/mcp/cursor/http/dana", "http://localhost:8765/mcp/windsurf/http/dana"]
        assert "membucket connect claude|claude-code|cursor|windsurf|vscode\n" in text and "Authorization" not in text
    other_port = banner(mb, build_state(mb, "127.0.0.1"), "127.0.0.1", 8799)
    assert "vscode --url http://localhost:8799\n" in other_port


@pytest.mark.slow  # ~10 s: a server subprocess
@pytest.mark.timeout(300)
def test_serve_process_shares_memories_with_the_cli(tmp_path):
    env = {**os.environ, "MEMBUCKET_STORE": str(tmp_path / "bucket"), "MEMBUCKET_USER": "dana", "MEMBUCKET_CACHE_DIR": str(tmp_path / "cache")}
    exe = [sys.executable, "-m", "membucket"]
    added = subprocess.run([*exe, "add", "Dana's cat is called Miso"], env=env, capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    mid = json.loads(added.stdout)["results"][0]["id"]
    port = free_port()
    proc = subprocess.Popen([*exe, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        banner = "".join(lines)
        assert f"http://localhost:{port}/mcp/claude/http/dana" in banner and "mcp-remote" in banner and str(tmp_path / "bucket") in banner
        assert f"http://localhost:{port}/mcp/<client>/http/<user>" in banner and "user 'dana', app 'mcp'" in banner
        rpc = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search_memory", "arguments": {"query": "cat name"}}}
        r = httpx.post(f"http://127.0.0.1:{port}/mcp/claude/http/dana", json=rpc, headers={"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["result"]["structuredContent"]["results"][0]["id"] == mid
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode in (0, -15)


def test_serve_refuses_public_bind_from_the_cli(tmp_path):
    env = {**os.environ, "MEMBUCKET_STORE": str(tmp_path / "bucket"), "MEMBUCKET_CACHE_DIR": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-m", "membucket", "serve", "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("error: auth_required:")
