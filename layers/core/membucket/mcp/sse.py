"""OpenMemory's legacy SSE URLs: ``GET /mcp/<client>/sse/<user>`` opens a session, and messages are
POSTed to ``/mcp/messages/?session_id=`` or ``/mcp/<client>/sse/<user>/messages/?session_id=``.

The caller is resolved exactly as for ``/mcp/<client>/http/<user>`` (``MCPEndpoint._caller``, which
goes through ``caller.identify``): a bearer token decides identity when auth is on, the URL's user
is trusted only on loopback with auth off. A session lives in this process (one SDK transport per
session); every POST must come from the caller that opened it, else it hears "no such session".
In Lambda a request can't hold a stream open, so there these URLs answer 404 naming the
streamable-HTTP URL instead (``mount_sse(..., sessions=False)``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..auth import Identity
from ..caller import ServerState, error_response
from ..errors import MembucketError
from .server import MCPEndpoint
from .tools import CALLER

__all__ = ["SSE_PATH", "MESSAGE_PATHS", "SSEEndpoint", "mount_sse"]

log = logging.getLogger(__name__)

SSE_PATH = "/mcp/{client_name}/sse/{user_id}"
MESSAGE_PATHS = ("/mcp/messages/", "/mcp/{client_name}/sse/{user_id}/messages/")
_POST_TO = "/mcp/messages/"  # where the endpoint event sends the client, as OpenMemory does


@dataclass
class _Session:
    transport: object  # mcp.server.sse.SseServerTransport
    identity: Identity
    url_app: str | None
    token_sent: bool


def _has_authorization(scope: Scope) -> bool:
    return any(k.lower() == b"authorization" for k, _ in scope.get("headers", []))


class SSEEndpoint(MCPEndpoint):
    """Both halves of the legacy transport: the event stream (GET) and the message POSTs."""

    def __init__(self, state: ServerState) -> None:
        super().__init__(state)
        self.sessions: dict[UUID, _Session] = {}

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: MembucketError) -> None:
        # the same refusal as MCPEndpoint.__call__: a 401 names the OAuth resource metadata
        headers = self._challenge(scope, exc) if exc.status == 401 else None
        await error_response(exc.status, exc.code, exc.message, headers=headers)(scope, receive, send)

    async def stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        from mcp.server.sse import SseServerTransport
        from mcp.server.transport_security import TransportSecuritySettings

        try:
            identity, url_app = self._caller(scope)
        except MembucketError as exc:
            return await self._refuse(scope, receive, send, exc)
        # One transport per session, so the id it made is the only key it holds.
        transport = SseServerTransport(_POST_TO, security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        lowlevel = self.server._lowlevel_server
        token = CALLER.set((self.state, identity, url_app))
        opened: list[UUID] = []

        async def send_registered(message) -> None:
            # the session is known before its first byte (the endpoint event) leaves, so the
            # client's first POST always finds it
            if not opened and transport._read_stream_writers:
                (session_id,) = transport._read_stream_writers
                self.sessions[session_id] = _Session(transport, identity, url_app, _has_authorization(scope))
                opened.append(session_id)
            await send(message)

        try:
            async with transport.connect_sse(scope, receive, send_registered) as (read, write):
                await lowlevel.run(read, write, lowlevel.create_initialization_options())
        finally:
            for session_id in opened:
                self.sessions.pop(session_id, None)
            CALLER.reset(token)

    async def message(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            identity, _ = self._caller(scope)
        except MembucketError as exc:
            return await self._refuse(scope, receive, send, exc)
        session = self._session(scope, identity)
        if session is None:
            return await error_response(
                404, "session_not_found", "no such SSE session: open one with GET /mcp/<client>/sse/<user> first"
            )(scope, receive, send)
        token = CALLER.set((self.state, session.identity, session.url_app))
        try:
            await session.transport.handle_post_message(scope, receive, send)  # type: ignore[attr-defined]
        finally:
            CALLER.reset(token)

    def _session(self, scope: Scope, poster: Identity) -> _Session | None:
        """The session this POST names, if the poster is the caller who opened it."""
        query = scope.get("query_string", b"").decode("latin-1")
        raw = next((v for k, _, v in (p.partition("=") for p in query.split("&")) if k == "session_id"), "")
        try:
            session = self.sessions.get(UUID(hex=raw))
        except ValueError:
            return None
        if session is None:
            return None
        params = scope.get("path_params") or {}
        if session.token_sent or _has_authorization(scope):
            # a token decides: the same user and app as the one that opened the stream
            if (poster.user, poster.app) != (session.identity.user, session.identity.app):
                return None
        elif "user_id" in params and (params["user_id"], params["client_name"]) != (session.identity.user, session.identity.app):
            return None
        return session


async def _gone(scope: Scope, receive: Receive, send: Send) -> None:
    """Lambda: no long-lived streams; point at the URL form that works there."""
    params = scope.get("path_params") or {}
    http_url = f"/mcp/{params['client_name']}/http/{params['user_id']}" if "user_id" in params else "/mcp"
    await error_response(
        404,
        "sse_not_supported",
        f"the legacy SSE transport needs a long-lived server; this deployment speaks streamable HTTP: "
        f"point the client at {http_url} (or /mcp with a token)",
        details={"streamable_http_url": http_url},
    )(scope, receive, send)


def mount_sse(app: Starlette, state: ServerState, sessions: bool = True) -> None:
    """OpenMemory's SSE URLs: served with in-process sessions, or (``sessions=False``) a clear 404."""
    if not sessions:
        for path in (SSE_PATH, *MESSAGE_PATHS):
            app.router.routes.append(Route(path, endpoint=_ASGI(_gone), methods=["GET", "POST"], include_in_schema=False))
        return
    endpoint = SSEEndpoint(state)
    app.router.routes.append(Route(SSE_PATH, endpoint=_ASGI(endpoint.stream), methods=["GET"], include_in_schema=False))
    for path in MESSAGE_PATHS:
        app.router.routes.append(Route(path, endpoint=_ASGI(endpoint.message), methods=["POST"], include_in_schema=False))


class _ASGI:
    """Starlette serves a bound method as a request handler but an object as raw ASGI: wrap the method."""

    def __init__(self, fn) -> None:
        self.fn = fn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.fn(scope, receive, send)
