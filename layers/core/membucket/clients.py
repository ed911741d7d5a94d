"""Ready-to-paste MCP client configs for a server URL: the serve banner and the UI's connect page show them."""

from __future__ import annotations

from typing import Any

__all__ = ["client_snippets", "client_configs", "CLIENTS", "TOKEN_PLACEHOLDER"]

TOKEN_PLACEHOLDER = "<YOUR_MEMBUCKET_TOKEN>"

CLIENTS = [
    ("claude", "Claude Desktop", "claude_desktop_config.json (Settings > Developer > Edit Config); needs Node.js for npx"),
    ("cursor", "Cursor", "~/.cursor/mcp.json (or .cursor/mcp.json in a project)"),
    ("windsurf", "Windsurf", "~/.codeium/windsurf/mcp_config.json"),
    ("vscode", "VS Code", ".vscode/mcp.json in the workspace (or the user-level mcp.json)"),
    # not "http": that is the transport segment of /mcp/<client>/http/<user>, and the URL read /mcp/http/http/...
    ("mcp-client", "Any streamable-HTTP client", "the client's MCP server settings"),
]


def client_snippets(url: str, token: str | None = None) -> dict[str, dict]:
    """Ready-to-paste client configs: direct streamable HTTP, and stdio clients through mcp-remote."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    remote_args = ["-y", "mcp-remote", url] + (["--header", f"Authorization: Bearer {token}"] if token else [])
    return {
        "streamable_http": {"mcpServers": {"membucket": {"type": "http", "url": url, **({"headers": headers} if headers else {})}}},
        "claude_desktop_or_cursor_via_mcp_remote": {"mcpServers": {"membucket": {"command": "npx", "args": remote_args}}},
    }


def client_configs(base: str, user: str, auth_required: bool, token: str | None) -> list[dict[str, Any]]:
    """Per-client MCP configs. With auth the token names the app, so every client uses ``/mcp``;
    without it (loopback) the OpenMemory URL ``/mcp/<client>/http/<user>`` names client and user."""
    out = []
    for cid, name, where in CLIENTS:
        url = f"{base}/mcp" if auth_required else f"{base}/mcp/{cid}/http/{user}"
        snippets = client_snippets(url, token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        entry = {"url": url, **({"headers": headers} if headers else {})}
        if cid == "claude":
            config = snippets["claude_desktop_or_cursor_via_mcp_remote"]
        elif cid == "cursor":
            config = {"mcpServers": {"membucket": entry}}
        elif cid == "windsurf":
            config = {"mcpServers": {"membucket": {"serverUrl": url, **({"headers": headers} if headers else {})}}}
        elif cid == "vscode":
            config = {"servers": {"membucket": {"type": "http", **entry}}}
        else:
            config = snippets["streamable_http"]
        out.append({"id": cid, "name": name, "where": where, "url": url, "config": config})
    return out
