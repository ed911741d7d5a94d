"""``membucket serve``: REST + MCP on one uvicorn server, with the safety rules for auth and binding.

- Binds 127.0.0.1 by default. On loopback, auth is off unless asked for (OpenMemory users expect
  that): the caller is ``MEMBUCKET_USER``, the same default the CLI uses.
- Any other address requires auth: without it, ``serve`` refuses to start and says why.
- Host headers are checked (DNS-rebinding defence): loopback names on loopback, plus
  ``MEMBUCKET_ALLOWED_HOSTS`` (the real hostnames behind a proxy).
"""

from __future__ import annotations

import ipaddress
import json
import socket

from ..auth import TokenStore
from ..caller import ServerState
from ..client import Membucket
from ..clients import client_snippets
from .access_log import server_config
from .app import create_app
from .guards import LOOPBACK_HOSTS

__all__ = ["build_state", "is_loopback", "ServeRefused", "banner", "run"]


class ServeRefused(RuntimeError):
    """A configuration that would expose memories without authentication."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_state(mb: Membucket, host: str = "127.0.0.1", auth: bool | None = None) -> ServerState:
    s = mb.settings
    auth = s.auth if auth is None else auth
    loopback = is_loopback(host)
    if not loopback and not auth:
        raise ServeRefused(
            f"refusing to serve on {host} without authentication: anyone who can reach it could read every "
            "memory. Pass --auth (or MEMBUCKET_AUTH=true) and create a token with `membucket token create`, "
            "or bind 127.0.0.1."
        )
    hosts = list(s.allowed_hosts)
    if loopback:
        hosts += LOOPBACK_HOSTS
    elif host not in ("0.0.0.0", "::"):
        hosts += [host, f"{host}:*"]
    return ServerState(
        mb=mb,
        tokens=TokenStore(mb.store, cache_seconds=s.token_cache_seconds),
        auth_required=bool(auth),
        default_user=s.user,
        allowed_hosts=hosts if (loopback or s.allowed_hosts) else [],
        allowed_origins=list(s.allowed_origins),
        max_body_bytes=s.max_body_bytes,
        max_import_bytes=s.max_import_bytes,
        rate_limit_per_minute=s.rate_limit_per_minute,
    )


def url_forms(base: str, state: ServerState) -> list[str]:
    """The MCP URL forms and who each one writes as (a client that rewrites the URL to ``/mcp``
    lands in the default user and app ``mcp`` with auth off, which should not be a surprise)."""
    if state.auth_required:
        return ["  MCP URLs     : /mcp with Authorization: Bearer <token> (the token names user, app and scopes)"]
    return [
        "  MCP URLs     :",
        f"    {base}/mcp/<client>/http/<user>   user <user>, app <client>",
        f"    {base}/mcp                        user {state.default_user!r}, app 'mcp' (or the X-Membucket-App header)",
    ]


def banner(mb: Membucket, state: ServerState, host: str, port: int) -> str:
    shown = "localhost" if is_loopback(host) else (socket.gethostname() if host in ("0.0.0.0", "::") else host)
    base = f"http://{shown}:{port}"
    url = f"{base}/mcp" if state.auth_required else f"{base}/mcp/claude/http/{state.default_user}"
    lines = [
        f"membucket serving on {base}",
        f"  MCP endpoint : {url}",
        f"  REST API     : {base}/api/v1   (docs: {base}/docs)",
        f"  data         : {mb.store.url}",
        f"  auth         : {'bearer tokens required' if state.auth_required else 'off (loopback only), user ' + repr(state.default_user)}",
        *url_forms(base, state),
        "",
        "Client config (paste into your MCP client's settings):",
        json.dumps(client_snippets(url, "<token from `membucket token create`>" if state.auth_required else None), indent=2),
    ]
    return "\n".join(lines)


def run(mb: Membucket, host: str = "127.0.0.1", port: int = 8765, auth: bool | None = None, log_level: str = "info") -> None:
    import uvicorn

    state = build_state(mb, host, auth)
    app = create_app(state)
    print(banner(mb, state, host, port), flush=True)
    # Commits are acknowledged only once their log object exists, so a graceful stop (SIGINT /
    # SIGTERM: uvicorn finishes in-flight requests) loses nothing; there is no buffer to flush.
    config = server_config(app, host, port, log_level, timeout_graceful_shutdown=10, proxy_headers=False)
    uvicorn.Server(config).run()
