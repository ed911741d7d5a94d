"""Callers named by API Gateway's JWT authorizer (``MEMBUCKET_LAMBDA_AUTH=jwt``).

The authorizer has verified the token before the function runs; the caller is read from its
claims (``Settings.jwt_user_claim``, scopes from ``scope``/``scp``). Only API Gateway may invoke
the functions (the template's Lambda permissions), so the claims cannot be forged by a client.
The claims of the request being served travel in a context variable: the Lambda glue sets them
around one invocation (``verified_claims``) and ``GatewayTokenStore.verify`` reads them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from ..engine.keys import validate_user_id
from ..store import ObjectStore
from .identity import SCOPES, Identity
from .tokens import InvalidToken, TokenStore

__all__ = ["GatewayTokenStore", "identity_from_claims", "verified_claims"]

_CLAIMS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("membucket_jwt_claims", default=None)


@contextmanager
def verified_claims(claims: dict | None) -> Iterator[None]:
    """Make ``claims`` (already verified by API Gateway, or None) the current request's while the block runs."""
    token = _CLAIMS.set(claims)
    try:
        yield
    finally:
        _CLAIMS.reset(token)


def identity_from_claims(claims: dict, user_claim: str = "sub") -> Identity:
    """The caller named by verified JWT claims: the user from ``user_claim``, scopes from ``scope``/``scp``.

    A scope counts when its last ``/`` or ``:`` part is read, write or admin (``membucket/write``,
    ``membucket:admin``); a token with none of those gets ``write``.
    """
    user = claims.get(user_claim)
    if not isinstance(user, str):
        raise InvalidToken(f"the token has no {user_claim!r} claim")
    raw = claims.get("scope") or claims.get("scp") or ""
    names = raw.split() if isinstance(raw, str) else list(raw)
    scopes = {n.replace(":", "/").rsplit("/", 1)[-1] for n in names} & set(SCOPES)
    return Identity(user=validate_user_id(user), app=None, scopes=frozenset(scopes or {"write"}))


class GatewayTokenStore(TokenStore):
    """Tokens verified by API Gateway's JWT authorizer: the claims of the current request decide."""

    def __init__(self, store: ObjectStore, user_claim: str = "sub", cache_seconds: float = 10.0) -> None:
        super().__init__(store, cache_seconds=cache_seconds)
        self.user_claim = user_claim

    def verify(self, token: str) -> Identity:
        claims = _CLAIMS.get()
        if not claims:
            raise InvalidToken("no verified JWT claims on this request (the API's JWT authorizer must run first)")
        return identity_from_claims(claims, self.user_claim)
