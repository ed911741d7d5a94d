"""MCP client configs for a server URL, in each client's own format and at its standard place.

One source for the three places that show or write them: the serve banner (a snippet per client),
the UI's connect page, and ``membucket connect`` (which merges the entry into the client's file).
Formats and places follow each client's documentation (checked 2025): Claude Desktop speaks stdio
only, so it reaches the HTTP endpoint through ``npx mcp-remote``; Claude Code, Cursor, Windsurf and
VS Code speak streamable HTTP themselves, each with its own key names.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "CLIENTS",
    "CONNECT_CLIENTS",
    "SERVER_NAME",
    "SYSTEMS",
    "TOKEN_PLACEHOLDER",
    "ClientFormat",
    "client_configs",
    "client_document",
    "config_path",
    "current_system",
    "server_entry",
    "snippet_lines",
]

TOKEN_PLACEHOLDER = "<YOUR_MEMBUCKET_TOKEN>"
SERVER_NAME = "membucket"  # the entry's key in the client's server map
SYSTEMS = ("linux", "macos", "windows")


@dataclass(frozen=True)
class ClientFormat:
    id: str
    name: str
    servers_key: str  # the top-level object that maps server names to entries
    where: str  # where the config lives, as the client's docs say it

    @property
    def via_mcp_remote(self) -> bool:
        return self.id == "claude"


FORMATS = {
    f.id: f
    for f in (
        ClientFormat("claude", "Claude Desktop", "mcpServers",
                     "claude_desktop_config.json (Settings > Developer > Edit Config); needs Node.js for npx"),
        ClientFormat("claude-code", "Claude Code", "mcpServers", "~/.claude.json (user scope, as `claude mcp add --scope user` writes)"),
        ClientFormat("cursor", "Cursor", "mcpServers", "~/.cursor/mcp.json (or .cursor/mcp.json in a project)"),
        ClientFormat("windsurf", "Windsurf", "mcpServers", "~/.codeium/windsurf/mcp_config.json"),
        ClientFormat("vscode", "VS Code", "servers", "the user mcp.json (MCP: Open User Configuration) or .vscode/mcp.json in a workspace"),
        # not "http": that is the transport segment of /mcp/<client>/http/<user>, and the URL read /mcp/http/http/...
        ClientFormat("mcp-client", "Any streamable-HTTP client", "mcpServers", "the client's MCP server settings"),
    )
}

CONNECT_CLIENTS = ("claude", "claude-code", "cursor", "windsurf", "vscode")  # those `membucket connect` writes
# what the UI's connect page lists (Claude Code is a command line there: `claude mcp add`)
CLIENTS = [(f.id, f.name, f.where) for f in FORMATS.values() if f.id != "claude-code"]


def _is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "localhost" or host.startswith("127.") or host == "::1"


def server_entry(client: str, url: str, token: str | None = None) -> dict[str, Any]:
    """The client's server entry for ``url`` (what goes under its servers key, named ``membucket``)."""
    headers = {"headers": {"Authorization": f"Bearer {token}"}} if token else {}
    if client == "claude":
        # mcp-remote wants https except on loopback; a space inside args is mangled by some clients
        # on Windows, so the header's value comes from env (mcp-remote's documented workaround).
        args = ["-y", "mcp-remote", url]
        if urlsplit(url).scheme == "http" and not _is_loopback_url(url):
            args.append("--allow-http")
        if token:
            args += ["--header", "Authorization:${AUTH_HEADER}"]
            return {"command": "npx", "args": args, "env": {"AUTH_HEADER": f"Bearer {token}"}}
        return {"command": "npx", "args": args}
    if client == "windsurf":
        return {"serverUrl": url, **headers}
    if client == "cursor":
        return {"url": url, **headers}
    if client in ("claude-code", "vscode", "mcp-client"):
        return {"type": "http", "url": url, **headers}
    raise ValueError(f"unknown client {client!r}")


def client_document(client: str, url: str, token: str | None = None) -> dict[str, Any]:
    """A complete config file holding only membucket: what a client with no config yet can paste."""
    return {FORMATS[client].servers_key: {SERVER_NAME: server_entry(client, url, token)}}


def current_system() -> str:
    if sys.platform == "win32":
        return "windows"
    return "macos" if sys.platform == "darwin" else "linux"


def config_path(client: str, system: str | None = None, home: str | None = None, environ: dict[str, str] | None = None) -> PurePath:
    """The client's user-level config file on ``system`` (default: this machine)."""
    system = system or current_system()
    environ = dict(os.environ) if environ is None else environ
    pure: type[PurePath] = PureWindowsPath if system == "windows" else PurePosixPath
    home_dir = pure(home if home is not None else os.path.expanduser("~"))
    if system == "windows":
        app_data = pure(environ.get("APPDATA") or home_dir / "AppData" / "Roaming")
    elif system == "macos":
        app_data = home_dir / "Library" / "Application Support"
    else:
        app_data = pure(environ.get("XDG_CONFIG_HOME") or home_dir / ".config")
    if client == "claude":
        return app_data / "Claude" / "claude_desktop_config.json"
    if client == "claude-code":  # CLAUDE_CONFIG_DIR moves Claude Code's whole config, this file included
        return pure(environ["CLAUDE_CONFIG_DIR"]) / ".claude.json" if environ.get("CLAUDE_CONFIG_DIR") else home_dir / ".claude.json"
    if client == "cursor":
        return home_dir / ".cursor" / "mcp.json"
    if client == "windsurf":
        return home_dir / ".codeium" / "windsurf" / "mcp_config.json"
    if client == "vscode":
        return app_data / "Code" / "User" / "mcp.json"
    raise ValueError(f"unknown client {client!r}")


def snippet_lines(url_for: dict[str, str], token: str | None, connect_hint: str) -> list[str]:
    """The serve banner's client section: per client where its config lives and a complete,
    one-line JSON document to paste there (Claude Code: its own one-line command)."""
    lines = [
        f"Connect a client (merges into its config, keeps the rest): {connect_hint}",
        'Or paste yours (each is a whole file; into an existing one, add the "membucket" entry):',
    ]
    for client in CONNECT_CLIENTS:
        fmt, url = FORMATS[client], url_for[client]
        lines.append(f"  {fmt.name} - {fmt.where}:")
        if client == "claude-code":
            header = f' --header "Authorization: Bearer {token}"' if token else ""
            lines.append(f"    claude mcp add --transport http --scope user {SERVER_NAME} {url}{header}")
        else:
            lines.append("    " + json.dumps(client_document(client, url, token)))
    return lines


def client_configs(base: str, user: str, auth_required: bool, token: str | None) -> list[dict[str, Any]]:
    """Per-client MCP configs for the UI. With auth the token names the app, so every client uses
    ``/mcp``; without it (loopback) the OpenMemory URL ``/mcp/<client>/http/<user>`` names client and user."""
    out = []
    for cid, name, where in CLIENTS:
        url = f"{base}/mcp" if auth_required else f"{base}/mcp/{cid}/http/{user}"
        out.append({"id": cid, "name": name, "where": where, "url": url, "config": client_document(cid, url, token)})
    return out
