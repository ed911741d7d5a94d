"""Who is calling, shared by REST and MCP: the server's state, the caller's identity, its Context,
and the one JSON shape a refused HTTP request hears (``{"error": {"code", "message", "details"?}}``).

It sits below api/, mcp/ and ui/ so that neither surface imports the other; http/ builds the
``ServerState`` and installs it on the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request  # what fastapi re-exports: the MCP function's app is plain Starlette
from starlette.responses import JSONResponse

from .auth import Identity, InvalidToken, TokenStore
from .auth.oauth import AuthorizationServer

if TYPE_CHECKING:  # annotations only: the engine behind them is imported on first use
    from .client import Membucket
    from .ops import Context

__all__ = ["IMPORT_PATH", "ServerState", "bearer_token", "context_for", "error_response", "get_identity", "get_state", "identify",
           "owner_surface", "public_origin"]

# The raw-bundle import route (api/bundles.py); here so the guards (http/) give it its larger body
# limit without importing the REST routers (the MCP Lambda function builds no REST routes).
IMPORT_PATH = "/api/v1/import"


@dataclass
class ServerState:
    mb: Membucket
    tokens: TokenStore
    auth_required: bool = True
    default_user: str = "default"
    allowed_hosts: list[str] = field(default_factory=list)
    allowed_origins: list[str] = field(default_factory=list)
    max_body_bytes: int = 1_048_576
    max_import_bytes: int = 512 * 1_048_576  # POST /api/v1/import only
    rate_limit_per_minute: int = 0  # per caller; 0 = off
    oauth: AuthorizationServer | None = None  # OAuth sign-in for MCP clients (auth on only)
    public_url: str | None = None  # https://memory.example.com; default: each request's scheme and Host
    oauth_issuer: str | None = None  # an outside authorization server (JWT mode) the resource metadata names


def get_state(request: Request) -> ServerState:
    return request.app.state.membucket


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def public_origin(state: ServerState, scope: Mapping[str, Any]) -> str:
    """``scheme://host`` clients reach this server at: the configured public URL, else the request's."""
    if state.public_url:
        return state.public_url.rstrip("/")
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    host = headers.get("host") or "localhost"
    return f"{scope.get('scheme', 'http')}://{host}"


def identify(state: ServerState, authorization: str | None, resource: str | None = None, user: str | None = None) -> Identity:
    """A bearer token wins; without one, auth off (loopback only) means the default user as owner,
    or the user an ``X-Membucket-User`` header names (the UI's user switch; ignored with auth on).

    An OAuth access token (``mba_...``) is accepted only where ``resource`` says the request is
    for an MCP URL at or below the resource the token was minted for (RFC 8707).
    """
    token = bearer_token(authorization)
    if token is not None and token.startswith("mba_") and state.oauth is not None:
        granted = state.oauth.grants.verify_access(token)
        if resource is None:
            raise InvalidToken("an OAuth access token is valid only at the MCP endpoint")
        if not state.oauth.resource_allows(granted.resource, resource):
            raise InvalidToken("this access token was issued for another resource")
        return granted.identity
    if token is not None:
        return state.tokens.verify(token)
    if state.auth_required:
        raise InvalidToken("authentication required: send 'Authorization: Bearer <token>'")
    if user:
        from .engine.keys import validate_user_id

        user = validate_user_id(user)
    return Identity(user=user or state.default_user, app=None, scopes=frozenset({"admin"}))


def get_identity(request: Request) -> Identity:
    """FastAPI dependency: the caller, or 401."""
    return identify(get_state(request), request.headers.get("authorization"), user=request.headers.get("x-membucket-user"))


def owner_surface(headers: Mapping[str, str]) -> str:
    """The label of the owner's writes in a REST request: the web UI says it is the UI, else the REST API."""
    from .ops.context import REST_API, WEB_UI  # at use: ops.context imports the engine

    return WEB_UI if headers.get("x-membucket-client") == WEB_UI else REST_API


def context_for(state: ServerState, identity: Identity, app: str | None = None, *, surface: str | None = None) -> Context:
    """The Context an identity acts in: its user, and its app (a token's app wins over ``app``).

    The owner (no app) acts under ``surface`` (``owner_surface``): history names it and new
    memories carry it as their app label, while the owner stays free of rules and pause."""
    acting = identity.app if identity.app is not None else app
    return state.mb.context(identity.user, acting, actor=None if acting is not None else (surface or "owner"))


def error_response(status: int, code: str, message: str, details: dict | None = None, headers: dict | None = None) -> JSONResponse:
    """The error body every HTTP answer uses, from a route, a guard or the MCP endpoint's auth check."""
    body: dict = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)
