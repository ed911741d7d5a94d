"""Grants: one owner's approval of one client, with its rotating refresh token and short access tokens.

- ``oauth/grants/<id>.json``: user, app, scopes, resource, the hash of the current refresh token
  and the hashes of the ones already used. A refresh token reads ``mbr_<grant id>_<secret>``;
  using it rotates it by compare-and-swap. A used one that comes back (stolen, or replayed) revokes
  the whole grant: every access and refresh token it produced stops working.
- ``oauth/access/<id>.json``: an access token ``mba_<id>_<secret>`` (about an hour), bound to the
  grant and to the resource (RFC 8707) it was minted for. Only hashes are stored.

Lookups are cached per process like bearer tokens (``cache_seconds``); a revocation made through
this process takes effect at once, one made elsewhere within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC

from ...errors import NotFoundError
from ...store import ObjectStore
from ..identity import Identity
from ..tokens import InvalidToken
from .errors import OAuthError
from .records import Records

__all__ = ["AccessGrant", "Grant", "GrantStore", "Issued"]

GRANTS = "oauth/grants/"
ACCESS = "oauth/access/"
_REFRESH = re.compile(r"^mbr_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$")
_ACCESS = re.compile(r"^mba_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$")
_GRANT_ID = re.compile(r"^[0-9a-f]{16}$")
KEEP_USED = 100


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _ts(epoch: float | None) -> str | None:
    from datetime import datetime

    from ...engine.log import format_ts  # at use: engine.log brings numpy, which a token check needs not

    return None if epoch is None else format_ts(datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None))


@dataclass
class Grant:
    id: str
    client_id: str
    client_name: str
    app: str
    user: str
    scopes: list[str]
    resource: str
    created_at: float
    last_used_at: float
    refresh_sha256: str = field(default="", repr=False)
    used_refresh: list[str] = field(default_factory=list, repr=False)
    revoked_at: float | None = None
    revoked_reason: str | None = None

    def public(self) -> dict:
        """What lists show: never a hash."""
        return {
            "id": self.id, "kind": "oauth", "user": self.user, "app": self.app, "client_id": self.client_id,
            "client_name": self.client_name, "scopes": self.scopes, "resource": self.resource,
            "created_at": _ts(self.created_at), "last_used_at": _ts(self.last_used_at),
            "revoked_at": _ts(self.revoked_at), "revoked_reason": self.revoked_reason,
        }


@dataclass(frozen=True)
class Issued:
    """A token response (RFC 6749 §5.1)."""

    access_token: str
    refresh_token: str
    expires_in: int
    scopes: list[str]
    grant: Grant

    def body(self) -> dict:
        return {
            "access_token": self.access_token, "token_type": "Bearer", "expires_in": self.expires_in,
            "refresh_token": self.refresh_token, "scope": " ".join(self.scopes),
        }


@dataclass(frozen=True)
class AccessGrant:
    """A verified access token: who it acts as and the resource it was minted for."""

    identity: Identity
    resource: str


class GrantStore:
    def __init__(
        self, store: ObjectStore, *, access_seconds: int = 3600, refresh_idle_seconds: float = 30 * 86_400,
        cache_seconds: float = 10.0, clock=time.time,
    ) -> None:
        self.grants = Records(store, GRANTS)
        self.access = Records(store, ACCESS)
        self.access_seconds = access_seconds
        self.refresh_idle_seconds = refresh_idle_seconds
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._access_cache: dict[str, dict | None] = {}
        self._grant_cache: dict[str, tuple[float, Grant | None]] = {}

    # issuing -------------------------------------------------------------------------------

    def create(self, *, client_id: str, client_name: str, app: str, user: str, scopes: list[str], resource: str) -> Issued:
        """A new grant (after a redeemed code) with its first access and refresh tokens."""
        now, secret = self.clock(), secrets.token_urlsafe(32)
        grant = Grant(
            id=secrets.token_hex(8), client_id=client_id, client_name=client_name, app=app, user=user,
            scopes=sorted(scopes), resource=resource, created_at=now, last_used_at=now, refresh_sha256=_sha(secret),
        )
        self.grants.create(grant.id, asdict(grant))
        return self._issue(grant, f"mbr_{grant.id}_{secret}", grant.scopes)

    def _issue(self, grant: Grant, refresh_token: str, scopes: list[str]) -> Issued:
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        record = {
            "id": token_id, "grant_id": grant.id, "scopes": scopes, "resource": grant.resource,
            "expires_at": self.clock() + self.access_seconds, "secret_sha256": _sha(secret),
        }
        self.access.create(token_id, record)
        return Issued(f"mba_{token_id}_{secret}", refresh_token, self.access_seconds, scopes, grant)

    def refresh(self, refresh_token: object, *, client_id: object, resource: str | None = None, scopes: list[str] | None = None) -> Issued:
        """Rotate a refresh token; a used one coming back revokes the grant. invalid_grant otherwise."""
        m = _REFRESH.match(refresh_token) if isinstance(refresh_token, str) else None
        if not m:
            raise OAuthError("invalid_grant", "unknown refresh token")
        grant_id, presented, now = m.group(1), _sha(m.group(2)), self.clock()
        new_secret = secrets.token_urlsafe(32)
        outcome: dict[str, str] = {}

        def rotate(data: dict) -> dict | None:
            outcome.clear()
            if data.get("revoked_at"):
                outcome["error"] = "this grant was revoked"
            elif hmac.compare_digest(data["refresh_sha256"], presented):
                if data["client_id"] != client_id:
                    outcome["error"] = "refresh token was issued to another client"
                elif data["last_used_at"] < now - self.refresh_idle_seconds:
                    outcome["error"] = "refresh token expired"
                elif resource is not None and resource != data["resource"]:
                    outcome["error"], outcome["code"] = "resource differs from the grant's", "invalid_target"
                else:
                    data["used_refresh"] = (data.get("used_refresh", []) + [presented])[-KEEP_USED:]
                    data["refresh_sha256"] = _sha(new_secret)
                    data["last_used_at"] = now
                    return data
            elif any(hmac.compare_digest(h, presented) for h in data.get("used_refresh", [])):
                outcome["error"], outcome["reuse"] = "refresh token already used; the grant is revoked", "1"
            else:
                outcome["error"] = "unknown refresh token"
            return None

        data = self.grants.update(grant_id, rotate)
        if data is None:
            raise OAuthError("invalid_grant", "unknown refresh token")
        if outcome.get("reuse"):
            self.revoke(grant_id, reason="refresh token reused")
        if outcome.get("error"):
            raise OAuthError(outcome.get("code", "invalid_grant"), outcome["error"])
        grant = Grant(**data)
        self._remember(grant)
        granted = grant.scopes
        if scopes is not None:
            if not scopes or not set(scopes) <= set(grant.scopes):
                raise OAuthError("invalid_scope", "a refresh may only narrow the granted scopes")
            granted = sorted(set(scopes))
        return self._issue(grant, f"mbr_{grant.id}_{new_secret}", granted)

    # verifying -----------------------------------------------------------------------------

    def verify_access(self, token: str) -> AccessGrant:
        """The identity an access token stands for; InvalidToken (401) when unknown, expired or revoked."""
        m = _ACCESS.match(token or "")
        if not m:
            raise InvalidToken("malformed token")
        record = self._access_record(m.group(1))
        expected = record["secret_sha256"] if record else "0" * 64
        if not hmac.compare_digest(_sha(m.group(2)), expected) or record is None:
            raise InvalidToken("unknown token")
        if self.clock() > record["expires_at"]:
            raise InvalidToken("access token expired")
        grant = self._grant(record["grant_id"])
        if grant is None or grant.revoked_at:
            raise InvalidToken("token revoked")
        identity = Identity(user=grant.user, app=grant.app, scopes=frozenset(record["scopes"]), token_id=grant.id)
        return AccessGrant(identity=identity, resource=record["resource"])

    def _access_record(self, token_id: str) -> dict | None:
        with self._lock:
            if token_id in self._access_cache:
                return self._access_cache[token_id]
        got = self.access.read(token_id)
        record = got[0] if got else None
        with self._lock:
            if len(self._access_cache) > 10_000:
                self._access_cache.clear()
            if record is not None:  # immutable once written; a miss is not cached (it may appear)
                self._access_cache[token_id] = record
        return record

    def _grant(self, grant_id: str) -> Grant | None:
        now = time.monotonic()
        with self._lock:
            hit = self._grant_cache.get(grant_id)
            if hit is not None and now - hit[0] < self.cache_seconds:
                return hit[1]
        got = self.grants.read(grant_id)
        grant = Grant(**got[0]) if got else None
        with self._lock:
            self._grant_cache[grant_id] = (now, grant)
        return grant

    def _remember(self, grant: Grant) -> None:
        with self._lock:
            self._grant_cache[grant.id] = (time.monotonic(), grant)

    # managing ------------------------------------------------------------------------------

    def get(self, grant_id: object, user: str | None = None) -> Grant:
        if not isinstance(grant_id, str) or not _GRANT_ID.match(grant_id):
            raise NotFoundError("grant not found")
        got = self.grants.read(grant_id)
        if got is None or (user is not None and got[0]["user"] != user):
            raise NotFoundError(f"grant {grant_id} not found")
        return Grant(**got[0])

    def list(self, user: str | None = None) -> list[Grant]:
        out = [Grant(**data) for _, data in self.grants.all() if user is None or data["user"] == user]
        return sorted(out, key=lambda g: g.created_at)

    def revoke(self, grant_id: str, user: str | None = None, reason: str = "revoked") -> Grant:
        """Revoke a grant (idempotent): its refresh token and every access token it minted stop working."""
        self.get(grant_id, user)
        now = self.clock()

        def mark(data: dict) -> dict | None:
            if data.get("revoked_at"):
                return None
            data["revoked_at"], data["revoked_reason"] = now, reason
            return data

        data = self.grants.update(grant_id, mark)
        if data is None:  # deleted in between
            raise NotFoundError(f"grant {grant_id} not found")
        grant = Grant(**data)
        self._remember(grant)
        return grant

    def revoke_token(self, token: object, client_id: object = None) -> None:
        """RFC 7009: revoke the grant behind an access or refresh token; unknown tokens are ignored."""
        if not isinstance(token, str):
            return
        grant_id = None
        if m := _REFRESH.match(token):
            got = self.grants.read(m.group(1))
            if got and (hmac.compare_digest(got[0]["refresh_sha256"], _sha(m.group(2)))
                        or _sha(m.group(2)) in got[0].get("used_refresh", [])):
                grant_id = m.group(1)
        elif m := _ACCESS.match(token):
            got = self.access.read(m.group(1))
            if got and hmac.compare_digest(got[0]["secret_sha256"], _sha(m.group(2))):
                grant_id = got[0]["grant_id"]
        if grant_id is None:
            return
        grant = self.get(grant_id)
        if client_id is not None and grant.client_id != client_id:
            return  # RFC 7009 §2.1: a token of another client is not revoked (and not revealed)
        self.revoke(grant_id, reason="revoked by the client")

    def sweep(self, keep_revoked_seconds: float = 7 * 86_400) -> int:
        """Delete expired access tokens, and grants revoked or idle long ago; returns how many objects."""
        now, n = self.clock(), 0
        for rid, data in self.access.all():
            if data.get("expires_at", 0) < now:
                self.access.delete(rid)
                n += 1
        for rid, data in self.grants.all():
            dead_since = data.get("revoked_at") or (data["last_used_at"] + self.refresh_idle_seconds)
            if dead_since < now - keep_revoked_seconds:
                self.grants.delete(rid)
                n += 1
        return n
