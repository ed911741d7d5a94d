"""``membucket connect <client>``: write or merge membucket's entry into an MCP client's config.

The file is the client's own, full of other servers and settings (``~/.claude.json`` is Claude
Code's whole state), so the merge touches one entry and nothing else: every other key stays, in
its order. A change is written to a temporary file and renamed over the original (a crash leaves
the old file or the new one), after a one-time copy ``FILE.bak-<UTC time>``. Nothing changes when
the entry is already right, and nothing is written over a file that does not parse: a malformed
file, or one with comments (VS Code's JSONC), is refused as it is rather than rewritten without
them. Tokens are written in full, shown only shortened.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from ..clients import CONNECT_CLIENTS, FORMATS, SERVER_NAME, client_document, config_path, server_entry
from .base import CliError, Runtime, pass_rt

__all__ = ["COMMANDS", "ConfigRefused", "Plan", "mask_tokens", "plan_merge", "resolve_url", "write_config"]

# keys of our entry that membucket owns; anything else the user added to it (disabled, autoApprove, ...) stays
_MANAGED = {"type", "url", "serverUrl", "headers", "command", "args", "env", "transport"}
_BEARER = re.compile(r"(Bearer\s+)([^\s\"',}]+)")


class ConfigRefused(ValueError):
    """The existing file cannot be merged into without losing something: nothing was written.
    ``by_hand``: the file is fine for its client (JSONC), so the entry to add by hand is worth showing."""

    def __init__(self, message: str, by_hand: bool = False) -> None:
        super().__init__(message)
        self.by_hand = by_hand


def _mask(token: str) -> str:
    if token.startswith("<"):
        return token  # a placeholder
    m = re.fullmatch(r"(mb_[0-9a-f]+_).+", token)
    return m.group(1) + "…" if m else token[:6] + "…"


def mask_tokens(text: str) -> str:
    """``Bearer mb_<id>_<secret>`` -> ``Bearer mb_<id>_…`` (the id is what `token list` shows):
    enough to tell tokens apart, not to use one."""
    return _BEARER.sub(lambda m: m.group(1) + _mask(m.group(2)), text)


def _strip_jsonc(text: str) -> str:
    """``text`` without // and /* */ comments and trailing commas, strings left alone (to tell JSONC
    from a broken file; the result is never written)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(c)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def _indent(text: str) -> str | int:
    """The file's indentation, so a rewrite changes only what it must."""
    m = re.search(r"^[{\[][^\n]*\n([ \t]+)\S", text, re.M)
    if not m:
        return 2
    return "\t" if m.group(1).startswith("\t") else len(m.group(1))


def load_config(path: Path, client: str) -> tuple[dict[str, Any], str | None]:
    """The parsed file ({} when absent or empty) and its text; ConfigRefused when it can't be merged."""
    if not path.exists():
        return {}, None
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigRefused(f"{path} is not UTF-8 text (byte {exc.start}); not a {FORMATS[client].name} config") from None
    if not text.strip():
        return {}, text
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        key = FORMATS[client].servers_key
        try:
            json.loads(_strip_jsonc(text))
        except json.JSONDecodeError:
            raise ConfigRefused(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}); fix or move it, then run this again") from None
        raise ConfigRefused(
            f"{path} has comments or trailing commas (JSONC), which a rewrite would lose; add this under "
            f'"{key}" yourself, or pass --config to write another file',
            by_hand=True,
        ) from None
    if not isinstance(doc, dict):
        kind = {"list": "an array", "str": "a string", "bool": "a boolean", "NoneType": "null"}.get(type(doc).__name__, "a number")
        raise ConfigRefused(f"{path} holds {kind}, not a JSON object: not a {FORMATS[client].name} config")
    servers = doc.get(FORMATS[client].servers_key)
    if servers is not None and not isinstance(servers, dict):
        raise ConfigRefused(f'{path}: "{FORMATS[client].servers_key}" is not an object; fix it by hand, then run this again')
    return doc, text


class Plan:
    """What connecting changes in one file: the merged document and the entry before and after."""

    def __init__(self, path: Path, client: str, doc: dict[str, Any], text: str | None, entry: dict[str, Any]) -> None:
        key = FORMATS[client].servers_key
        self.path, self.client, self.text = path, client, text
        self.old_entry = (doc.get(key) or {}).get(SERVER_NAME)
        kept = {k: v for k, v in self.old_entry.items() if k not in _MANAGED} if isinstance(self.old_entry, dict) else {}
        self.new_entry = {**entry, **kept}
        servers = dict(doc.get(key) or {})
        servers[SERVER_NAME] = self.new_entry
        self.new_doc = {**doc, key: servers}
        self.old_doc = doc

    @property
    def holds_token(self) -> bool:
        return "Bearer " in json.dumps(self.new_entry)

    @property
    def changed(self) -> bool:
        return self.text is None or self.new_doc != self.old_doc

    def describe(self) -> list[str]:
        """The change, as added/removed lines of the entry, tokens shortened."""
        verb = "add" if self.old_entry is None else "update"
        where = f'{self.path}: {verb} server "{SERVER_NAME}" in "{FORMATS[self.client].servers_key}"'
        if self.old_entry is None:
            return [where, "  + " + mask_tokens(f'"{SERVER_NAME}": ' + json.dumps(self.new_entry, ensure_ascii=False))]
        old = json.dumps(self.old_entry, indent=2, ensure_ascii=False).splitlines()
        new = json.dumps(self.new_entry, indent=2, ensure_ascii=False).splitlines()
        diff = [d[:2] + d[4:] if d[2:4] == "  " else d for d in difflib.ndiff(old, new) if d[:1] in "+-"]
        return [where, *("  " + mask_tokens(d) for d in diff)]

    def render(self) -> str:
        text = self.text or ""
        newline = "\r\n" if "\r\n" in text else "\n"
        body = json.dumps(self.new_doc, indent=_indent(text) if text.strip() else 2, ensure_ascii=False)
        return body.replace("\n", newline) + newline


def plan_merge(path: Path, client: str, url: str, token: str | None) -> Plan:
    doc, text = load_config(path, client)
    return Plan(path, client, doc, text, server_entry(client, url, token))


def _current_text(path: Path) -> str | None:
    return path.read_bytes().decode("utf-8-sig") if path.exists() else None


def write_config(plan: Plan, now: float | None = None) -> Path | None:
    """Back the file up once, then replace it atomically; returns the backup's path (None: new file).
    ConfigRefused, with nothing left behind, when the file changed since it was read."""
    path = plan.path

    def unchanged() -> None:
        if _current_text(path) != plan.text:  # the client rewrote it meanwhile (Claude Code often does)
            raise ConfigRefused(f"{path} changed while membucket was merging into it; nothing written, run this again")

    unchanged()
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    mode = 0o600  # a new file may hold a token
    if plan.text is not None:
        mode = path.stat().st_mode & 0o777
        if plan.holds_token:
            mode &= 0o700  # others could read a token that is now in it
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        backup = path.with_name(f"{path.name}.bak-{stamp}")
        n = 1
        while backup.exists():
            n += 1
            backup = path.with_name(f"{path.name}.bak-{stamp}-{n}")
        shutil.copy2(path, backup)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(plan.render())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        unchanged()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        if backup is not None:
            backup.unlink(missing_ok=True)
        raise
    return backup


def resolve_url(client: str, url: str | None, app: str | None, user: str | None, default_user: str, port: int, token: str | None) -> str:
    """The MCP URL to write. ``--url`` with a path is used as given; otherwise the server (``--url``
    without a path, or this machine's on MEMBUCKET_PORT) at ``/mcp/<app>/http/<user>``, or at
    ``/mcp`` when a token names user and app and neither --user nor --app asks otherwise."""
    base = f"http://localhost:{port}"
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--url must be an http(s) URL, got {url!r}")
        if parts.path.strip("/"):
            return url
        base = f"{parts.scheme}://{parts.netloc}"
    if token and app is None and user is None:
        return f"{base}/mcp"
    return f"{base}/mcp/{app or client}/http/{user or default_user}"


@click.command("connect")
@click.argument("client", type=click.Choice(CONNECT_CLIENTS))
@click.option("--url", help="MCP URL, or a server's address (http://host:port) to use the default path on. Default: this machine's server (MEMBUCKET_PORT).")
@click.option("--user", "user", help="User the client acts as (in the URL). Default: MEMBUCKET_USER or 'default'.")
@click.option("--app", "app", help="App name the client acts as (in the URL). Default: the client's name.")
@click.option("--token", help="Bearer token for a server with auth (`membucket token create`); '-' reads it from stdin.")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="Write this file instead of the client's own (e.g. .vscode/mcp.json)."
)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@pass_rt
def connect(rt: Runtime, client: str, url: str | None, user: str | None, app: str | None, token: str | None, config_file: Path | None, dry_run: bool) -> None:
    """Add membucket to an MCP client's config, keeping every other server and setting.

    Backs the file up once per change (FILE.bak-<time>); a second run with the same options changes
    nothing. Restart the client afterwards.

    Example: membucket connect cursor

    With auth: membucket connect claude --url https://memory.example.com --token mb_...
    """
    from ..engine.keys import validate_app_name, validate_user_id
    from ..errors import InvalidInput
    from ..settings import Settings

    as_json = rt.as_json
    try:
        settings = Settings(**rt.overrides)
        if token == "-":
            token = sys.stdin.readline().strip() or None
        if user is not None:
            validate_user_id(user)
        if app is not None:
            validate_app_name(app)
        mcp_url = resolve_url(client, url, app, user, settings.user, settings.port, token)
    except (InvalidInput, ValueError) as exc:
        raise CliError(getattr(exc, "code", "invalid_input"), str(exc).splitlines()[0], as_json) from exc
    path = (config_file or Path(config_path(client))).expanduser()
    if path.is_symlink():
        path = path.resolve()  # a dotfiles link stays a link: the file it points to changes
    try:
        plan = plan_merge(path, client, mcp_url, token)
    except ConfigRefused as exc:
        hint = json.dumps(client_document(client, mcp_url, token)[FORMATS[client].servers_key])
        raise CliError("invalid_config", f"{exc}: {mask_tokens(hint)}" if exc.by_hand else str(exc), as_json) from None
    except OSError as exc:
        raise CliError("invalid_config", f"cannot read {path}: {exc.strerror or exc}", as_json) from None
    if not plan.changed:
        click.echo(f'{path}: already up to date (server "{SERVER_NAME}" -> {mask_tokens(mcp_url)})')
        return
    for line in plan.describe():
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing written")
        return
    try:
        backup = write_config(plan)
    except ConfigRefused as exc:
        raise CliError("invalid_config", str(exc), as_json) from None
    except OSError as exc:
        raise CliError("invalid_config", f"cannot write {path}: {exc.strerror or exc}", as_json) from None
    click.echo(f"wrote {path}" + (f" (backup: {backup.name})" if backup else ""))
    click.echo(f"Restart {FORMATS[client].name} to load it." + (" It needs Node.js (npx runs mcp-remote)." if FORMATS[client].via_mcp_remote else ""))


COMMANDS = [connect]
