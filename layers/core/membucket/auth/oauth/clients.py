"""Dynamic client registration (RFC 7591) for public clients, with limits.

A client is ``oauth/clients/<client_id>.json``. Only public clients are registered
(``token_endpoint_auth_method: none``; PKCE stands in for the secret). Limits:

- redirect URIs are https, or http on a loopback address (RFC 8252), with no fragment or
  credentials; at most 5, each at most 512 characters; matched exactly later;
- the name is reduced to letters, digits, spaces and ``. _ + -`` and cut to 40 characters; the
  app the client acts as is that name in lower case, so rules, pause and the access log of the
  app "claude" apply to a client that registered as "Claude";
- registration is rate-limited across the whole bucket (``max_per_minute``) and the number of
  clients is capped (``max_clients``);
- a client never used (no code redeemed) within ``idle_seconds`` of its registration expires.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from ...store import ObjectStore
from .errors import OAuthError
from .records import Records

__all__ = ["Client", "ClientRegistry", "check_redirect_uri", "sanitize_name"]

PREFIX = "oauth/clients/"
MAX_NAME = 40
MAX_REDIRECT_URIS = 5
MAX_URI = 512
_CLIENT_ID = re.compile(r"^mcl_[0-9a-f]{24}$")
_NOT_NAME = re.compile(r"[^A-Za-z0-9._ +-]+")
GRANT_TYPES = ("authorization_code", "refresh_token")


@dataclass
class Client:
    client_id: str
    client_name: str
    app: str
    redirect_uris: list[str]
    created_at: float
    last_used_at: float | None = None
    scope: str | None = None
    grant_types: list[str] = field(default_factory=lambda: list(GRANT_TYPES))

    def registration(self) -> dict:
        """The RFC 7591 §3.2.1 answer."""
        out = {
            "client_id": self.client_id,
            "client_id_issued_at": int(self.created_at),
            "client_name": self.client_name,
            "redirect_uris": self.redirect_uris,
            "grant_types": self.grant_types,
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        if self.scope:
            out["scope"] = self.scope
        return out


def _registered_at(client_id: str) -> int:
    """The registration time (unix seconds) a client id starts with."""
    try:
        return int(client_id[4:12], 16)
    except ValueError:
        return 0


def sanitize_name(raw: object) -> str:
    """A display name safe to show and to use as an app name; 'oauth client' when nothing is left."""
    text = raw if isinstance(raw, str) else ""
    text = " ".join(_NOT_NAME.sub(" ", text).split())
    text = text[:MAX_NAME].strip(" .+-_")
    while ".." in text:
        text = text.replace("..", ".")
    return text or "oauth client"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: object) -> str:
    """https anywhere, or http on loopback; no fragment, no user info. invalid_redirect_uri otherwise."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI or any(c.isspace() or ord(c) < 32 for c in uri):
        raise OAuthError("invalid_redirect_uri", f"a redirect URI must be a URL of at most {MAX_URI} characters")
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise OAuthError("invalid_redirect_uri", "a redirect URI must be a valid URL") from None
    if parts.fragment or "#" in uri:
        raise OAuthError("invalid_redirect_uri", "a redirect URI must not have a fragment")
    if "@" in parts.netloc or not host:
        raise OAuthError("invalid_redirect_uri", "a redirect URI must name a host and carry no user info")
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host)):
        return uri
    raise OAuthError("invalid_redirect_uri", "a redirect URI must be https, or http on a loopback address")


class ClientRegistry:
    def __init__(
        self, store: ObjectStore, *, idle_seconds: float = 86_400, max_clients: int = 1000, max_per_minute: int = 20,
        clock=time.time,
    ) -> None:
        self.records = Records(store, PREFIX)
        self.idle_seconds = idle_seconds
        self.max_clients = max_clients
        self.max_per_minute = max_per_minute
        self.clock = clock

    def register(self, metadata: object) -> Client:
        """Validate RFC 7591 client metadata and store the client; OAuthError on anything refused."""
        if not isinstance(metadata, dict):
            raise OAuthError("invalid_client_metadata", "the body must be a JSON object")
        uris = metadata.get("redirect_uris")
        if not isinstance(uris, list) or not uris:
            raise OAuthError("invalid_redirect_uri", "redirect_uris must be a non-empty list")
        if len(uris) > MAX_REDIRECT_URIS:
            raise OAuthError("invalid_redirect_uri", f"at most {MAX_REDIRECT_URIS} redirect URIs")
        uris = [check_redirect_uri(u) for u in uris]
        grant_types = metadata.get("grant_types") or list(GRANT_TYPES)
        if not isinstance(grant_types, list) or not set(grant_types) <= set(GRANT_TYPES) or "authorization_code" not in grant_types:
            raise OAuthError("invalid_client_metadata", "grant_types must be authorization_code (and refresh_token)")
        response_types = metadata.get("response_types") or ["code"]
        if response_types != ["code"]:
            raise OAuthError("invalid_client_metadata", "response_types must be [\"code\"]")
        method = metadata.get("token_endpoint_auth_method") or "none"
        if method not in ("none", "client_secret_post", "client_secret_basic"):
            raise OAuthError("invalid_client_metadata", "token_endpoint_auth_method must be none (public client)")
        raw_scope = metadata.get("scope")
        scope = " ".join(s for s in raw_scope.split() if s in ("read", "write")) if isinstance(raw_scope, str) else ""
        now = self.clock()
        self._check_limits(now)
        name = sanitize_name(metadata.get("client_name"))
        client = Client(
            client_id=f"mcl_{int(now) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}", client_name=name, app=name.lower(), redirect_uris=uris,
            created_at=now, scope=scope or None, grant_types=sorted(set(grant_types) | {"authorization_code"}),
        )
        self.records.create(client.client_id, asdict(client))
        return client

    def _check_limits(self, now: float) -> None:
        """Bucket-wide: at most ``max_per_minute`` registrations a minute and ``max_clients`` live clients.

        A client id starts with its registration time, so one listing (no reads) counts both; only
        at the cap are unused clients read and swept before refusing.
        """
        ids = list(self.records.ids())
        recent = sum(_registered_at(rid) > now - 60 for rid in ids)
        if recent >= self.max_per_minute:
            raise OAuthError("temporarily_unavailable", "too many registrations; try again in a minute", 429)
        if len(ids) >= self.max_clients and len(ids) - self.sweep() >= self.max_clients:
            raise OAuthError("temporarily_unavailable", f"too many registered clients (at most {self.max_clients})", 429)

    def _expired(self, data: dict, now: float) -> bool:
        return data.get("last_used_at") is None and data.get("created_at", 0) < now - self.idle_seconds

    def get(self, client_id: object) -> Client:
        """The client, or invalid_client (unknown, malformed, or expired unused)."""
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            raise OAuthError("invalid_client", "unknown client_id", 401)
        got = self.records.read(client_id)
        if got is None or self._expired(got[0], self.clock()):
            raise OAuthError("invalid_client", "unknown client_id", 401)
        return Client(**got[0])

    def mark_used(self, client_id: str) -> None:
        """Record a use (a redeemed code); at most one write an hour per client."""
        now = self.clock()

        def touch(data: dict) -> dict | None:
            if data.get("last_used_at") and data["last_used_at"] > now - 3600:
                return None
            data["last_used_at"] = now
            return data

        self.records.update(client_id, touch)

    def delete(self, client_id: str) -> None:
        self.records.delete(client_id)

    def sweep(self) -> int:
        """Delete clients that expired unused; returns how many."""
        now, n = self.clock(), 0
        for rid, data in self.records.all():
            if self._expired(data, now):
                self.records.delete(rid)
                n += 1
        return n
