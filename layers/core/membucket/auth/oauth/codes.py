"""Authorization codes: short-lived (60 s), single-use, bound to client, redirect URI, PKCE challenge and resource.

A code reads ``mbc_<id>_<secret>``; ``oauth/codes/<id>.json`` keeps only ``sha256(secret)``.
Redeeming first creates ``oauth/codes/<id>.used`` if absent: of two redemptions racing, in one
process or in two Lambda containers, exactly one gets past that write. A code that comes back
after its use names the grant it produced, so the server can revoke that grant (RFC 6749 §4.1.2).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import asdict, dataclass

from ...store import IF_ABSENT, ObjectStore, PreconditionFailed
from .errors import OAuthError
from .pkce import verify as verify_pkce
from .records import Records

__all__ = ["AuthorizationCodes", "CodeRecord", "CodeReused"]

PREFIX = "oauth/codes/"
_CODE = re.compile(r"^mbc_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$")


@dataclass
class CodeRecord:
    id: str
    client_id: str
    redirect_uri: str
    user: str
    scopes: list[str]
    resource: str
    code_challenge: str
    expires_at: float
    secret_sha256: str
    grant_id: str | None = None


class CodeReused(OAuthError):
    """A code presented a second time; ``grant_id`` is what its first use produced (if known yet)."""

    def __init__(self, grant_id: str | None) -> None:
        super().__init__("invalid_grant", "authorization code already used")
        self.grant_id = grant_id


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AuthorizationCodes:
    def __init__(self, store: ObjectStore, ttl_seconds: float = 60, clock=time.time) -> None:
        self.store = store
        self.records = Records(store, PREFIX)
        self.ttl = ttl_seconds
        self.clock = clock

    def issue(self, *, client_id: str, redirect_uri: str, user: str, scopes: list[str], resource: str, code_challenge: str) -> str:
        code_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        record = CodeRecord(
            id=code_id, client_id=client_id, redirect_uri=redirect_uri, user=user, scopes=sorted(scopes),
            resource=resource, code_challenge=code_challenge, expires_at=self.clock() + self.ttl, secret_sha256=_sha(secret),
        )
        self.records.create(code_id, asdict(record))
        return f"mbc_{code_id}_{secret}"

    def redeem(self, code: object, *, client_id: object, redirect_uri: object, verifier: object) -> CodeRecord:
        """The code's record, used up; invalid_grant for anything wrong (CodeReused for a second use)."""
        m = _CODE.match(code) if isinstance(code, str) else None
        got = self.records.read(m.group(1)) if m else None
        expected = got[0]["secret_sha256"] if got else "0" * 64
        presented = _sha(m.group(2)) if m else "1" * 64
        if not hmac.compare_digest(presented, expected) or got is None:
            raise OAuthError("invalid_grant", "unknown authorization code")
        record = CodeRecord(**got[0])
        try:
            self.store.put(PREFIX + record.id + ".used", b"", IF_ABSENT)
        except PreconditionFailed:
            again = self.records.read(record.id)
            raise CodeReused(again[0].get("grant_id") if again else None) from None
        if self.clock() > record.expires_at:
            raise OAuthError("invalid_grant", "authorization code expired")
        if client_id != record.client_id:
            raise OAuthError("invalid_grant", "authorization code was issued to another client")
        if redirect_uri != record.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        if not isinstance(verifier, str) or not verify_pkce(verifier, record.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        return record

    def attach_grant(self, code_id: str, grant_id: str) -> None:
        """Remember which grant a code produced, so a replay can revoke it."""

        def attach(data: dict) -> dict:
            data["grant_id"] = grant_id
            return data

        self.records.update(code_id, attach)

    def sweep(self, grace_seconds: float = 600) -> int:
        """Delete codes (and their used markers) expired more than ``grace_seconds`` ago."""
        now, n = self.clock(), 0
        for rid, data in self.records.all():
            if data.get("expires_at", 0) < now - grace_seconds:
                self.store.delete(PREFIX + rid + ".used")
                self.records.delete(rid)
                n += 1
        return n
