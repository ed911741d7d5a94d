"""The MCP endpoint, mounted into the one ASGI app at ``/mcp`` (and OpenMemory's URL form).

Each HTTP request gets a fresh stateless, JSON-response session manager: it works the same
under uvicorn and under Mangum (where the ASGI lifespan runs per invocation, so a manager
started in the lifespan would fail on the second call). Host and Origin are checked by the
app's guard middleware, so the SDK's own check is off here.

No SSE stream: a GET (what streamable-HTTP clients send to open one) is answered 405 at once,
as the MCP spec allows for a server without one. Stateless, nothing would ever be sent on it,
and under Lambda the invocation would run to its timeout.

Identity: a bearer token (user, app, scopes). Without auth (loopback only) the caller is the
default user, or ``/mcp/<client>/http/<user>`` for OpenMemory clients; ``/mcp`` alone uses the
app ``mcp`` unless an ``X-Membucket-App`` header names one.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..auth import Identity
from ..auth.oauth import resource_metadata_url
from ..caller import ServerState, error_response, identify, public_origin
from ..engine.keys import validate_app_name, validate_user_id
from ..errors import Forbidden, MembucketError
from .tools import CALLER, register_tools

__all__ = ["MCPEndpoint", "build_mcp_server", "mount_mcp"]

INSTRUCTIONS = (
    "membucket is the user's long-term memory, shared by all their AI clients. Search it before answering "
    "questions that may depend on earlier conversations; add durable facts and preferences the user shares."
)


def build_mcp_server():
    from mcp.server.mcpserver import MCPServer

    from ..version import __version__

    server = MCPServer(name="membucket", instructions=INSTRUCTIONS, version=__version__)
    register_tools(server)
    return server


class MCPEndpoint:
    """ASGI endpoint: resolve the caller, then serve one JSON-RPC exchange statelessly."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.server = build_mcp_server()

    def _resource(self, scope: Scope) -> str:
        """This request's MCP URL as an RFC 8707 resource (what an OAuth access token must cover)."""
        return public_origin(self.state, scope) + scope.get("path", "/mcp").rstrip("/")

    def _challenge(self, scope: Scope, exc: MembucketError) -> dict[str, str]:
        """RFC 9728 §5.1: a 401 names the resource metadata, so an MCP client can find where to sign in."""
        if self.state.oauth is None and not self.state.oauth_issuer:
            return {"WWW-Authenticate": "Bearer"}
        url = resource_metadata_url(public_origin(self.state, scope), scope.get("path", "/mcp").rstrip("/"))
        has_token = any(k.lower() == b"authorization" for k, _ in scope.get("headers", []))
        error = ', error="invalid_token"' if has_token else ""
        return {"WWW-Authenticate": f'Bearer resource_metadata="{url}"{error}'}

    def _caller(self, scope: Scope) -> tuple[Identity, str | None]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        params = scope.get("path_params") or {}
        url_user, url_app = params.get("user_id"), params.get("client_name")
        if url_user is not None:
            validate_user_id(url_user)
            validate_app_name(url_app)
        identity = identify(self.state, headers.get("authorization"), resource=self._resource(scope))
        if headers.get("authorization"):
            if url_user is not None and url_user != identity.user:
                raise Forbidden("this token belongs to another user than the URL names")
            return identity, url_app
        app = url_app or headers.get("x-membucket-app") or "mcp"
        validate_app_name(app)
        user = url_user or identity.user
        return Identity(user=user, app=app, scopes=frozenset({"write"})), None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
        from mcp.server.transport_security import TransportSecuritySettings

        if scope.get("method") in ("GET", "HEAD"):
            return await error_response(
                405, "method_not_allowed", "this MCP endpoint has no SSE stream: POST JSON-RPC messages to it", headers={"Allow": "POST, DELETE"}
            )(scope, receive, send)
        try:
            identity, url_app = self._caller(scope)
        except MembucketError as exc:
            headers = self._challenge(scope, exc) if exc.status == 401 else None
            return await error_response(exc.status, exc.code, exc.message, headers=headers)(scope, receive, send)
        token = CALLER.set((self.state, identity, url_app))
        try:
            manager = StreamableHTTPSessionManager(
                app=self.server._lowlevel_server,
                json_response=True,
                stateless=True,
                security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )
            async with manager.run():
                await manager.handle_request(scope, receive, send)
        finally:
            CALLER.reset(token)


def mount_mcp(app: Starlette, state: ServerState) -> None:
    # A manager per request makes the SDK's per-session INFO lines per-request noise.
    for name in ("mcp.server.streamable_http_manager", "mcp.server.streamable_http"):
        logging.getLogger(name).setLevel(logging.WARNING)
    endpoint = MCPEndpoint(state)
    for path in ("/mcp", "/mcp/{client_name}/http/{user_id}"):
        app.router.routes.append(Route(path, endpoint=endpoint, methods=["GET", "POST", "DELETE"], include_in_schema=False))  # GET: 405, above
