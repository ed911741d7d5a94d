"""Everything that can call as a user, in one list: bearer tokens and OAuth grants.

``membucket token list|revoke`` goes through here, so an OAuth client shows up (and is revoked)
where an operator looks for tokens. Both kinds of id are 16 hex digits and never collide in
practice; a revoke tries the token first, then the grant.
"""

from __future__ import annotations

from ..errors import NotFoundError
from ..store import ObjectStore
from .oauth.grants import GrantStore
from .tokens import TokenStore

__all__ = ["list_credentials", "revoke_credential"]


def list_credentials(store: ObjectStore, user: str | None = None) -> list[dict]:
    """Tokens (``kind: token``) then OAuth grants (``kind: oauth``), oldest first within each; no secrets."""
    tokens = [{"kind": "token", **t.public()} for t in TokenStore(store).list(user)]
    return tokens + [g.public() for g in GrantStore(store).list(user)]


def revoke_credential(store: ObjectStore, credential_id: str) -> dict:
    """Revoke a token or an OAuth grant by id (idempotent); NotFoundError when neither exists."""
    try:
        return {"kind": "token", **TokenStore(store).revoke(credential_id).public()}
    except NotFoundError:
        pass
    try:
        return GrantStore(store).revoke(credential_id, reason="revoked by the operator").public()
    except NotFoundError:
        raise NotFoundError(f"no token or OAuth grant {credential_id}") from None
