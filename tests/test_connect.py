"""`membucket connect <client>`: the client's config gets membucket's entry and keeps everything else.

Each test runs the real command against a temporary home: files at each client's standard place,
merged without losing other servers or keys, backed up once per change, left alone when already
right, and never touched when they don't parse.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from click.testing import CliRunner
from membucket import cli as cli_module
from membucket.clients import CONNECT_CLIENTS, config_path

TOKEN = "mb_0123456789abcdef_secretpart"

SHAPES = {  # the client's servers key, and how its entry names the URL
    "claude": ("mcpServers", lambda e: e["args"][2]),
    "claude-code": ("mcpServers", lambda e: e["url"]),
    "cursor": ("mcpServers", lambda e: e["url"]),
    "windsurf": ("mcpServers", lambda e: e["serverUrl"]),
    "vscode": ("servers", lambda e: e["url"]),
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A Linux machine whose home is a temporary directory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setattr("membucket.clients.current_system", lambda: "linux")
    return home


def run(*args, ok=True, stdin=None):
    result = CliRunner().invoke(cli_module.cli, ["connect", *args], input=stdin, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output + result.stderr
    return result


def path_of(client: str) -> Path:
    return Path(str(config_path(client)))


def entry(client: str, path: Path | None = None) -> dict:
    key, _ = SHAPES[client]
    return json.loads((path or path_of(client)).read_text())[key]["membucket"]


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".bak-*"))


@pytest.mark.parametrize("client", CONNECT_CLIENTS)
def test_a_fresh_file_gets_the_client_format_at_its_standard_place(home, client):
    out = run(client).output
    path = path_of(client)
    assert path.is_relative_to(home) and path.exists()
    key, url_of = SHAPES[client]
    doc = json.loads(path.read_text())
    assert list(doc) == [key]
    assert url_of(doc[key]["membucket"]) == f"http://localhost:8765/mcp/{client}/http/default"
    assert f'\n  + "membucket": {json.dumps(doc[key]["membucket"])}\n' in out
    assert 'add server "membucket"' in out and "wrote" in out and "backup" not in out and not backups(path)
    if client == "claude":
        assert doc[key]["membucket"]["command"] == "npx" and doc[key]["membucket"]["args"][:2] == ["-y", "mcp-remote"]
        assert "Node.js" in out
    if client == "vscode":
        assert doc[key]["membucket"]["type"] == "http"


@pytest.mark.parametrize("client", CONNECT_CLIENTS)
def test_merge_keeps_other_servers_and_keys_backs_up_once_and_reruns_change_nothing(home, client):
    key, url_of = SHAPES[client]
    path = path_of(client)
    path.parent.mkdir(parents=True, exist_ok=True)
    original = {"theme": "dark", key: {"other": {"command": "other-server", "args": ["--x"]}}, "numStartups": 7}
    path.write_text(json.dumps(original, indent=4) + "\n")
    before = path.read_bytes()

    out = run(client, "--user", "alice").output
    doc = json.loads(path.read_text())
    assert list(doc) == ["theme", key, "numStartups"] and doc["theme"] == "dark" and doc["numStartups"] == 7
    assert doc[key]["other"] == original[key]["other"] and list(doc[key]) == ["other", "membucket"]
    assert url_of(doc[key]["membucket"]) == f"http://localhost:8765/mcp/{client}/http/alice"
    assert path.read_text().startswith('{\n    "theme"')  # the file's own indentation
    [backup] = backups(path)
    assert backup.read_bytes() == before and "backup: " + backup.name in out

    written = path.read_bytes()
    again = run(client, "--user", "alice").output
    assert "already up to date" in again and "wrote" not in again
    assert path.read_bytes() == written and backups(path) == [backup]


def test_an_update_changes_only_our_entry_keeps_what_the_user_added_to_it_and_says_what_changed(home, tmp_path):
    path = path_of("cursor")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"mcpServers": {"membucket": {"url": "http://localhost:1/old", "disabled": False}}}))
    out = run("cursor", "--app", "work").output
    assert '  - "url": "http://localhost:1/old",\n  + "url": "http://localhost:8765/mcp/work/http/default",\n' in out
    assert entry("cursor") == {"url": "http://localhost:8765/mcp/work/http/default", "disabled": False}
    assert len(backups(path)) == 1


@pytest.mark.parametrize(
    "text, says",
    [('{"mcpServers": {"a": 1,,}', "not valid JSON"), ("[1, 2]", "holds an array"), ('{"mcpServers": []}', '"mcpServers" is not an object'),
     ("{'single': 'quotes'}", "not valid JSON"), ('{"a": "\xff"}', "not UTF-8")],
)
def test_a_malformed_file_is_refused_and_left_untouched(home, text, says):
    path = path_of("cursor")
    path.parent.mkdir(parents=True)
    data = text.encode("latin-1")
    path.write_bytes(data)
    r = run("cursor", ok=False)
    assert r.exit_code == 1 and r.stderr.startswith("error: invalid_config: ") and str(path) in r.stderr and says in r.stderr
    assert path.read_bytes() == data and not backups(path)


def test_vscode_jsonc_is_refused_with_the_entry_to_add_by_hand(home):
    path = path_of("vscode")
    path.parent.mkdir(parents=True)
    text = '{\n  // my servers\n  "servers": {\n    "x": {"type": "http", "url": "https://x/mcp"}, /* keep */\n  },\n}\n'
    path.write_text(text)
    r = run("vscode", "--token", TOKEN, ok=False)
    assert r.exit_code == 1 and "comments" in r.stderr and '"servers"' in r.stderr
    assert '"membucket": {"type": "http"' in r.stderr and TOKEN not in r.stderr
    assert path.read_text() == text and not backups(path)


def test_dry_run_writes_nothing(home):
    out = run("windsurf", "--dry-run").output
    assert "add server" in out and "dry run: nothing written" in out
    assert not path_of("windsurf").exists() and not path_of("windsurf").parent.exists()
    path = path_of("windsurf")
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": {}}')
    assert "serverUrl" in run("windsurf", "--dry-run").output
    assert path.read_text() == '{"mcpServers": {}}' and not backups(path)


def test_config_overrides_the_standard_place(home, tmp_path):
    target = tmp_path / "project" / ".vscode" / "mcp.json"
    run("vscode", "--config", str(target))
    assert entry("vscode", target)["url"].endswith("/mcp/vscode/http/default")
    assert not path_of("vscode").exists()


def test_a_token_is_written_but_never_printed_in_full(home):
    out = run("cursor", "--token", TOKEN).output
    assert TOKEN not in out and "Bearer mb_0123456789abcdef_…" in out
    assert entry("cursor") == {"url": "http://localhost:8765/mcp", "headers": {"Authorization": f"Bearer {TOKEN}"}}
    assert os.stat(path_of("cursor")).st_mode & 0o777 == 0o600  # it holds a token
    again = run("cursor", "--token", TOKEN).output
    assert "already up to date" in again and TOKEN not in again
    path_of("cursor").chmod(0o644)
    out = run("cursor", "--token", "mb_00ff_othersecret").output
    assert re.search(r'^  -\s+"Authorization": "Bearer mb_0123456789abcdef_…"$', out, re.M)
    assert re.search(r'^  \+\s+"Authorization": "Bearer mb_00ff_…"$', out, re.M)
    assert "secret" not in out and os.stat(path_of("cursor")).st_mode & 0o777 == 0o600
    # Claude Desktop: the header's value comes from env (spaces in args break some clients on Windows)
    run("claude", "--token", "-", "--url", "https://memory.example.com", stdin=TOKEN + "\n")
    claude = entry("claude")
    assert claude["args"] == ["-y", "mcp-remote", "https://memory.example.com/mcp", "--header", "Authorization:${AUTH_HEADER}"]
    assert claude["env"] == {"AUTH_HEADER": f"Bearer {TOKEN}"}


def test_url_forms_and_bad_options(home, monkeypatch):
    run("cursor", "--url", "http://localhost:8799/")
    assert entry("cursor")["url"] == "http://localhost:8799/mcp/cursor/http/default"
    run("cursor", "--url", "https://memory.example.com/mcp")
    assert entry("cursor")["url"] == "https://memory.example.com/mcp"
    monkeypatch.setenv("MEMBUCKET_PORT", "8800")
    monkeypatch.setenv("MEMBUCKET_USER", "bob")
    run("windsurf")
    assert entry("windsurf")["serverUrl"] == "http://localhost:8800/mcp/windsurf/http/bob"
    run("claude", "--url", "http://192.168.1.5:8765")  # mcp-remote needs --allow-http off loopback
    assert entry("claude")["args"][2:] == ["http://192.168.1.5:8765/mcp/claude/http/bob", "--allow-http"]
    r = run("cursor", "--user", "not a user!", ok=False)
    assert r.exit_code == 1 and r.stderr.startswith("error: invalid_user_id:")
    r = run("cursor", "--url", "ftp://x", ok=False)
    assert r.exit_code == 1 and r.stderr.startswith("error: invalid_input:")


def test_a_symlinked_config_stays_a_link(home, tmp_path):
    dotfiles = tmp_path / "dotfiles" / "cursor-mcp.json"
    dotfiles.parent.mkdir()
    dotfiles.write_text('{"mcpServers": {"x": {"url": "https://x/mcp"}}}')
    link = path_of("cursor")
    link.parent.mkdir(parents=True)
    link.symlink_to(dotfiles)
    run("cursor")
    assert link.is_symlink() and set(json.loads(dotfiles.read_text())["mcpServers"]) == {"x", "membucket"}


def test_a_file_the_client_rewrites_meanwhile_is_not_overwritten(home):
    from membucket.cli.connect import ConfigRefused, plan_merge, write_config

    path = path_of("claude-code")
    path.write_text('{"numStartups": 1}')
    plan = plan_merge(path, "claude-code", "http://localhost:8765/mcp/claude-code/http/default", None)
    path.write_text('{"numStartups": 2}')  # Claude Code saved its state in between
    with pytest.raises(ConfigRefused, match="changed while"):
        write_config(plan)
    assert path.read_text() == '{"numStartups": 2}' and [p.name for p in path.parent.iterdir()] == [".claude.json"]


def test_an_empty_file_counts_as_a_fresh_one(home):
    path = path_of("claude")
    path.parent.mkdir(parents=True)
    path.write_text("")
    run("claude")
    assert entry("claude")["command"] == "npx" and len(backups(path)) == 1


# -- standard places per OS ----------------------------------------------------------------------

EXPECTED = {
    "linux": {
        "claude": "/home/u/.config/Claude/claude_desktop_config.json",
        "claude-code": "/home/u/.claude.json",
        "cursor": "/home/u/.cursor/mcp.json",
        "windsurf": "/home/u/.codeium/windsurf/mcp_config.json",
        "vscode": "/home/u/.config/Code/User/mcp.json",
    },
    "macos": {
        "claude": "/Users/u/Library/Application Support/Claude/claude_desktop_config.json",
        "claude-code": "/Users/u/.claude.json",
        "cursor": "/Users/u/.cursor/mcp.json",
        "windsurf": "/Users/u/.codeium/windsurf/mcp_config.json",
        "vscode": "/Users/u/Library/Application Support/Code/User/mcp.json",
    },
    "windows": {
        "claude": r"C:\Users\u\AppData\Roaming\Claude\claude_desktop_config.json",
        "claude-code": r"C:\Users\u\.claude.json",
        "cursor": r"C:\Users\u\.cursor\mcp.json",
        "windsurf": r"C:\Users\u\.codeium\windsurf\mcp_config.json",
        "vscode": r"C:\Users\u\AppData\Roaming\Code\User\mcp.json",
    },
}
HOMES = {"linux": "/home/u", "macos": "/Users/u", "windows": r"C:\Users\u"}


@pytest.mark.parametrize("system", sorted(EXPECTED))
@pytest.mark.parametrize("client", CONNECT_CLIENTS)
def test_standard_places_per_os(system, client):
    environ = {"APPDATA": r"C:\Users\u\AppData\Roaming"} if system == "windows" else {}
    got = config_path(client, system, HOMES[system], environ)
    pure = PureWindowsPath if system == "windows" else PurePosixPath
    assert got == pure(EXPECTED[system][client])


def test_xdg_config_home_claude_config_dir_and_a_missing_appdata():
    assert str(config_path("claude-code", "linux", "/home/u", {"CLAUDE_CONFIG_DIR": "/home/u/.claude-work"})) == "/home/u/.claude-work/.claude.json"
    assert str(config_path("claude", "linux", "/home/u", {"XDG_CONFIG_HOME": "/cfg"})) == "/cfg/Claude/claude_desktop_config.json"
    assert config_path("vscode", "windows", r"C:\Users\u", {}) == PureWindowsPath(r"C:\Users\u\AppData\Roaming\Code\User\mcp.json")


def test_the_command_writes_where_this_os_keeps_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("membucket.clients.current_system", lambda: "macos")
    run("claude")
    path = tmp_path / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    assert json.loads(path.read_text())["mcpServers"]["membucket"]["command"] == "npx"
    run("vscode")
    assert (tmp_path / "Library" / "Application Support" / "Code" / "User" / "mcp.json").exists()

