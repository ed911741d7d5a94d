"""``/api/v1/tokens``: list, create and revoke bearer tokens of the caller's user (``admin`` scope).

A token only ever reaches its own user. An owner token (no app) manages every token of its user;
an app-bound admin token manages only tokens bound to its own app, so it cannot mint a token that
escapes its app's rules. The plain token is returned once, at creation; only its hash is stored.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from .. import ops
from ..auth import Identity
from ..auth.identity import InsufficientScope
from ..caller import get_identity, get_state
from ..errors import NotFoundError
from .schemas import (
    AUTHENTICATED,
    ERROR_RESPONSES,
    GrantOut,
    GrantsOut,
    TokenCreated,
    TokenIn,
    TokenOut,
    TokensOut,
    acting,
)

__all__ = ["router"]

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=ERROR_RESPONSES, dependencies=AUTHENTICATED)

Caller = Annotated[Identity, Depends(get_identity)]
TokenId = Annotated[str, Path(min_length=1, max_length=64, json_schema_extra={"pattern": "^[0-9a-f]{16}$"}, description="Token id (16 hex digits)")]
GrantId = Annotated[str, Path(min_length=1, max_length=64, json_schema_extra={"pattern": "^[0-9a-f]{16}$"}, description="Grant id (16 hex digits)")]


def _authorize(request: Request, identity: Identity) -> None:
    """Admin scope, and a paused (or deny-all) app-bound token is refused here too."""
    ops.check_caller(acting(request, identity, "admin"), write=True)


@router.get("", response_model=TokensOut, summary="List tokens")
def list_tokens(request: Request, identity: Caller):
    _authorize(request, identity)
    infos = get_state(request).tokens.list(identity.user)
    return {"items": [t.public() for t in infos if identity.app is None or t.app == identity.app]}


@router.post("", status_code=201, response_model=TokenCreated, summary="Create a token")
def create_token(request: Request, body: TokenIn, identity: Caller):
    """Create a token for the caller's user; the response carries the token once."""
    _authorize(request, identity)
    app = body.app if identity.app is None else identity.app
    if identity.app is not None and body.app not in (None, identity.app):
        raise InsufficientScope("a token bound to an app can only create tokens for that app", required="owner")
    plain, info = get_state(request).tokens.create(identity.user, app, [s.value for s in body.scopes], body.description)
    return {"token": plain, **info.public()}


@router.get("/oauth", response_model=GrantsOut, summary="List OAuth grants")
def list_grants(request: Request, identity: Caller):
    """Clients connected by OAuth sign-in (one grant per approval), with their app and scopes."""
    _authorize(request, identity)
    oauth = get_state(request).oauth
    grants = oauth.grants.list(identity.user) if oauth is not None else []
    return {"items": [g.public() for g in grants if identity.app is None or g.app == identity.app]}


@router.delete("/oauth/{grant_id}", response_model=GrantOut, summary="Revoke an OAuth grant")
def revoke_grant(request: Request, grant_id: GrantId, identity: Caller):
    """Revoke a grant (idempotent): its refresh token and every access token it minted stop working."""
    _authorize(request, identity)
    oauth = get_state(request).oauth
    if oauth is None:
        raise NotFoundError(f"grant {grant_id} not found")
    if identity.app is not None and oauth.grants.get(grant_id, identity.user).app != identity.app:
        raise NotFoundError(f"grant {grant_id} not found")
    return oauth.grants.revoke(grant_id, identity.user, reason="revoked by the owner").public()


@router.delete("/{token_id}", response_model=TokenOut, summary="Revoke a token")
def revoke_token(request: Request, token_id: TokenId, identity: Caller):
    """Revoke one of the caller's user's tokens (idempotent); it stops working at once on this server."""
    _authorize(request, identity)
    tokens = get_state(request).tokens
    if identity.app is not None and tokens.get(token_id, identity.user).app != identity.app:
        raise NotFoundError(f"token {token_id} not found")
    return tokens.revoke(token_id, identity.user).public()
