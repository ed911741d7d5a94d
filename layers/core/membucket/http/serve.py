"""``membucket serve``: REST + MCP on one uvicorn server, with the safety rules for auth and binding.

- Binds 127.0.0.1 by default. On loopback, auth is off unless asked for (OpenMemory users expect
  that): the caller is ``MEMBUCKET_USER``, the same default the CLI uses.
- Any other address requires auth: without it, ``serve`` refuses to start and says why.
- Host headers are checked (DNS-rebinding defence): loopback names on loopback, plus
  ``MEMBUCKET_ALLOWED_HOSTS`` (the real hostnames behind a proxy).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..auth import TokenStore
from ..auth.oauth import AuthorizationServer, OAuthConfig
from ..caller import ServerState
from ..client import Membucket
from ..clients import CONNECT_CLIENTS, TOKEN_PLACEHOLDER, snippet_lines
from .access_log import server_config
from .guards import LOOPBACK_HOSTS

__all__ = ["PortInUse", "ServeRefused", "banner", "build_state", "is_loopback", "run"]


class ServeRefused(RuntimeError):
    """A configuration that would expose memories without authentication."""


class PortInUse(ServeRefused):
    """The address is taken (another membucket, another server): said before the banner."""


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
    tokens = TokenStore(mb.store, cache_seconds=s.token_cache_seconds)
    return ServerState(
        mb=mb,
        tokens=tokens,
        oauth=oauth_server(mb, tokens) if auth else None,
        public_url=s.public_url,
        auth_required=bool(auth),
        default_user=s.user,
        allowed_hosts=hosts if (loopback or s.allowed_hosts) else [],
        allowed_origins=list(s.allowed_origins),
        max_body_bytes=s.max_body_bytes,
        max_import_bytes=s.max_import_bytes,
        rate_limit_per_minute=s.rate_limit_per_minute,
    )


def oauth_server(mb: Membucket, tokens: TokenStore) -> AuthorizationServer | None:
    """The authorization server MCP clients sign in through, unless MEMBUCKET_OAUTH=false."""
    s = mb.settings
    if not s.oauth:
        return None
    config = OAuthConfig(
        access_seconds=s.oauth_access_token_seconds,
        refresh_idle_seconds=s.oauth_refresh_idle_seconds,
        client_idle_seconds=s.oauth_client_idle_seconds,
        max_clients=s.oauth_max_clients,
        registrations_per_minute=s.oauth_registrations_per_minute,
        owner_passphrase=s.oauth_owner_passphrase.get_secret_value() if s.oauth_owner_passphrase else None,
        cache_seconds=s.token_cache_seconds,
    )
    return AuthorizationServer(mb.store, tokens, config)


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
        *([f"  OAuth        : clients that sign in need only the MCP endpoint (consent at {base}/authorize)"] if state.oauth else []),
        "",
        *client_section(mb, state, base, is_loopback(host) and port == mb.settings.port),
    ]
    return "\n".join(lines)


def client_section(mb: Membucket, state: ServerState, base: str, connect_defaults: bool) -> list[str]:
    """One paste-able snippet per client, and the `membucket connect` line that writes it for you
    (naming --url when its default, this machine's MEMBUCKET_PORT, is not where we listen)."""
    token = TOKEN_PLACEHOLDER if state.auth_required else None  # `membucket token create` makes one
    user = state.default_user
    url_for = {c: f"{base}/mcp" if state.auth_required else f"{base}/mcp/{c}/http/{user}" for c in CONNECT_CLIENTS}
    hint = "membucket connect " + "|".join(CONNECT_CLIENTS)
    if not connect_defaults:
        hint += f" --url {base}"
    if state.auth_required:
        hint += f" --token {TOKEN_PLACEHOLDER}"
    return snippet_lines(url_for, token, hint)


def run(mb: Membucket, host: str = "127.0.0.1", port: int = 8765, auth: bool | None = None, log_level: str = "info") -> None:
    import uvicorn

    state = build_state(mb, host, auth)
    from .app import create_app  # here: building the state (Lambda's MCP function) needs no REST routers

    app = create_app(state)
    sock = listen(host, port)  # before the banner: a busy port is one line, not a banner and a trace
    print(banner(mb, state, host, port), flush=True)
    # Commits are acknowledged only once their log object exists, so a graceful stop (SIGINT /
    # SIGTERM: uvicorn finishes in-flight requests) loses nothing; there is no buffer to flush.
    config = server_config(app, host, port, log_level, timeout_graceful_shutdown=10, proxy_headers=False)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if sockets and self.started:  # uvicorn says where it listens only for sockets it bound
                self._log_started_message(sockets)

    with _sigterm_exits_cleanly(), sock:
        Server(config).run(sockets=[sock])


def listen(host: str, port: int) -> socket.socket:
    """Bind the server's socket as uvicorn would, or raise PortInUse saying what to do."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    if os.name != "nt":  # on Windows SO_REUSEADDR lets a second server take a port in use
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise PortInUse(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (is membucket already running? "
            "`membucket service status`; or choose another port: --port, MEMBUCKET_PORT, make run PORT=...)"
        ) from None
    return sock


@contextmanager
def _sigterm_exits_cleanly() -> Iterator[None]:
    """After its graceful shutdown uvicorn re-raises SIGTERM with the handler it found, which by
    default kills the process (status 143): a stop asked for by systemd, launchd or a test
    ends as exit 0 instead, so a service manager reads it as a clean stop, not a crash."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
