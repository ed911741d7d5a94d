"""Who is calling, shared by REST and MCP: the server's state, the caller's identity, its Context,
and the one JSON shape a refused HTTP request hears (``{"error": {"code", "message", "details"?}}``).

It sits below api/, mcp/ and ui/ so that neither surface imports the other; http/ builds the
``ServerState`` and installs it on the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import JSONResponse

from .auth import Identity, InvalidToken, TokenStore
from .client import Membucket
from .ops import Context

__all__ = ["ServerState", "get_state", "identify", "get_identity", "context_for", "bearer_token", "error_response"]


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


def get_state(request: Request) -> ServerState:
    return request.app.state.membucket


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def identify(state: ServerState, authorization: str | None, user: str | None = None) -> Identity:
    """A bearer token wins; without one, auth off (loopback only) means the default user as owner,
    or the user an ``X-Membucket-User`` header names (the UI's user switch; ignored with auth on)."""
    token = bearer_token(authorization)
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
    return identify(get_state(request), request.headers.get("authorization"), request.headers.get("x-membucket-user"))


def context_for(state: ServerState, identity: Identity, app: str | None = None) -> Context:
    """The Context an identity acts in: its user, and its app (a token's app wins over ``app``)."""
    return state.mb.context(identity.user, identity.app if identity.app is not None else app)


def error_response(status: int, code: str, message: str, details: dict | None = None, headers: dict | None = None) -> JSONResponse:
    """The error body every HTTP answer uses, from a route, a guard or the MCP endpoint's auth check."""
    body: dict = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)
