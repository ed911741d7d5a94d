"""The authorization server: registration, the authorization request, owner sign-in, consent, tokens.

Transport-free: the HTTP layer hands it query and form fields and the public origin, and turns
``OAuthError`` into RFC 6749 §5.2 answers. The origin (``https://memory.example.com``) is the
issuer; the protected resource is ``<origin>/mcp`` or an MCP URL below it (RFC 8707).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from ...engine.keys import validate_user_id
from ...errors import MembucketError
from ...store import ObjectStore
from ..tokens import TokenStore
from .clients import Client, ClientRegistry
from .codes import AuthorizationCodes, CodeReused
from .errors import OAuthError
from .grants import GrantStore, Issued
from .pkce import check_challenge
from .sealing import Sealer

__all__ = ["MCP_PATH", "OFFERED_SCOPES", "AuthRequest", "AuthorizationServer", "OAuthConfig", "RedirectError"]

log = logging.getLogger(__name__)

OFFERED_SCOPES = ("read", "write")
MCP_PATH = "/mcp"
CONSENT_SECONDS = 600  # how long a consent page (and a sign-in on it) stays usable
SWEEP_SECONDS = 3600  # each process clears dead OAuth objects this often, from the token endpoint


@dataclass(frozen=True)
class OAuthConfig:
    code_seconds: float = 60
    access_seconds: int = 3600
    refresh_idle_seconds: float = 30 * 86_400
    client_idle_seconds: float = 86_400
    max_clients: int = 1000
    registrations_per_minute: int = 20
    owner_passphrase: str | None = None
    cache_seconds: float = 10.0
    sign_in_failures_per_minute: int = 20


@dataclass(frozen=True)
class AuthRequest:
    """A validated authorization request (RFC 6749 §4.1.1 + PKCE + RFC 8707)."""

    client_id: str
    client_name: str
    redirect_uri: str
    state: str | None
    code_challenge: str
    resource: str
    scopes: list[str]

    def fields(self) -> dict:
        return {
            "client_id": self.client_id, "client_name": self.client_name, "redirect_uri": self.redirect_uri,
            "state": self.state, "code_challenge": self.code_challenge, "resource": self.resource, "scopes": self.scopes,
        }


class RedirectError(OAuthError):
    """An error to send back to the client through its (verified) redirect URI, with its state."""

    def __init__(self, error: str, description: str, redirect_uri: str, state: str | None) -> None:
        super().__init__(error, description)
        self.location = with_query(redirect_uri, {"error": error, "error_description": description, "state": state})


def with_query(uri: str, params: dict) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{query}"


def normalize_resource(resource: str) -> str:
    parts = urlsplit(resource)
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


class AuthorizationServer:
    def __init__(self, store: ObjectStore, tokens: TokenStore, config: OAuthConfig = OAuthConfig(), clock=time.time) -> None:
        self.config = config
        self.tokens = tokens
        self.clients = ClientRegistry(
            store, idle_seconds=config.client_idle_seconds, max_clients=config.max_clients,
            max_per_minute=config.registrations_per_minute, clock=clock,
        )
        self.codes = AuthorizationCodes(store, ttl_seconds=config.code_seconds, clock=clock)
        self.grants = GrantStore(
            store, access_seconds=config.access_seconds, refresh_idle_seconds=config.refresh_idle_seconds,
            cache_seconds=config.cache_seconds, clock=clock,
        )
        self.sealer = Sealer(store, clock=clock)
        self.clock = clock
        self._failures: list[float] = []
        self._lock = threading.Lock()
        self._next_sweep = clock() + SWEEP_SECONDS

    # resources -----------------------------------------------------------------------------

    @staticmethod
    def default_resource(origin: str) -> str:
        return origin.rstrip("/") + MCP_PATH

    def check_resource(self, origin: str, resource: object) -> str:
        """A resource this server protects (``<origin>/mcp`` or below), normalized; invalid_target otherwise."""
        if resource is None or resource == "":
            return self.default_resource(origin)
        if not isinstance(resource, str) or len(resource) > 512 or "#" in resource or "?" in resource:
            raise OAuthError("invalid_target", "resource must be an absolute URL without query or fragment")
        normalized = normalize_resource(resource)
        base = normalize_resource(self.default_resource(origin))
        if normalized != base and not normalized.startswith(base + "/"):
            raise OAuthError("invalid_target", f"this server only grants access to {base}")
        return normalized

    @staticmethod
    def resource_allows(token_resource: str, requested: str) -> bool:
        """A token minted for ``token_resource`` may be used at ``requested`` (the same URL or below it)."""
        granted, wanted = normalize_resource(token_resource), normalize_resource(requested)
        return wanted == granted or wanted.startswith(granted + "/")

    # registration --------------------------------------------------------------------------

    def register(self, metadata: object) -> Client:
        return self.clients.register(metadata)

    # authorization request -----------------------------------------------------------------

    def authorization_request(self, params: Mapping[str, str], origin: str) -> AuthRequest:
        """Validate /authorize's query. OAuthError (shown on a page, never redirected) while the client
        or its redirect URI is in doubt; RedirectError (sent back to the client) after that."""
        client = self.clients.get(params.get("client_id"))
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:  # required here, so the token request can always be held to it
            raise OAuthError("invalid_request", "redirect_uri is required")
        if redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is not one this client registered (exact match required)")
        state = params.get("state")
        if state is not None and len(state) > 1024:
            raise OAuthError("invalid_request", "state is longer than 1024 characters")
        try:
            if params.get("response_type") != "code":
                raise OAuthError("unsupported_response_type", "response_type must be code")
            challenge = check_challenge(params.get("code_challenge"), params.get("code_challenge_method"))
            resource = self.check_resource(origin, params.get("resource"))
        except OAuthError as exc:
            raise RedirectError(exc.error, exc.description, redirect_uri, state) from None
        requested = (params.get("scope") or client.scope or "").split()
        scopes = [s for s in OFFERED_SCOPES if s in requested] or ["write"]
        return AuthRequest(client.client_id, client.client_name, redirect_uri, state, challenge, resource, scopes)

    def seal_request(self, request: AuthRequest, nonce: str, user: str | None = None) -> str:
        """The consent form's hidden field: the request, the browser's nonce (CSRF) and, once signed in, the user."""
        return self.sealer.seal("consent", {"r": request.fields(), "n": nonce, "u": user}, CONSENT_SECONDS)

    def open_request(self, sealed: object, nonce: object) -> tuple[AuthRequest, str | None]:
        """The sealed request and user, if the seal is ours, fresh, and bound to this browser's nonce."""
        data = self.sealer.unseal("consent", sealed)
        if data is None or not isinstance(nonce, str) or not hmac.compare_digest(data["n"], nonce):
            raise OAuthError("access_denied", "the consent form expired or was not issued to this browser; start again", 403)
        fields = data["r"]
        client = self.clients.get(fields["client_id"])  # still registered
        if fields["redirect_uri"] not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is no longer registered")
        return AuthRequest(**fields), data["u"]

    # the owner -----------------------------------------------------------------------------

    def sign_in(self, credential: object, user: object) -> str:
        """The user an owner may approve for: an owner admin token's user, or, with the operator
        passphrase, the user named. access_denied otherwise (a token cannot approve for another user)."""
        with self._lock:
            now = self.clock()
            self._failures = [t for t in self._failures if t > now - 60]
            if len(self._failures) >= self.config.sign_in_failures_per_minute:
                raise OAuthError("temporarily_unavailable", "too many failed sign-ins; wait a minute", 429)
        try:
            return self._sign_in(credential, user)
        except OAuthError:
            with self._lock:
                self._failures.append(self.clock())
            raise

    def _sign_in(self, credential: object, user: object) -> str:
        if not isinstance(credential, str) or not credential.strip():
            raise OAuthError("access_denied", "sign in with an owner admin token or the operator passphrase", 401)
        credential = credential.strip()
        wanted = user.strip() if isinstance(user, str) and user.strip() else None
        if credential.startswith("mb_"):
            try:
                identity = self.tokens.verify(credential)
            except MembucketError:
                raise OAuthError("access_denied", "that token is not valid", 401) from None
            if identity.app is not None or not identity.can("admin"):
                raise OAuthError("access_denied", "only an owner admin token (no app) can approve access", 403)
            if wanted is not None and wanted != identity.user:
                raise OAuthError("access_denied", "this token cannot approve access to another user's memories", 403)
            return identity.user
        passphrase = self.config.owner_passphrase
        if not passphrase or not hmac.compare_digest(credential.encode(), passphrase.encode()):
            raise OAuthError("access_denied", "wrong token or passphrase", 401)
        try:
            return validate_user_id(wanted or "")
        except MembucketError:
            raise OAuthError("invalid_request", "name the user whose memories the client may reach") from None

    def approve(self, request: AuthRequest, user: str, scopes: list[str]) -> str:
        """The redirect that hands the client its code (with the state echoed)."""
        chosen = sorted({s for s in scopes if s in OFFERED_SCOPES})
        if not chosen:
            raise OAuthError("invalid_scope", "choose read or write access")
        code = self.codes.issue(
            client_id=request.client_id, redirect_uri=request.redirect_uri, user=user, scopes=chosen,
            resource=request.resource, code_challenge=request.code_challenge,
        )
        return with_query(request.redirect_uri, {"code": code, "state": request.state})

    @staticmethod
    def deny(request: AuthRequest) -> str:
        return with_query(request.redirect_uri, {"error": "access_denied", "error_description": "the owner declined", "state": request.state})

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    # token endpoint ------------------------------------------------------------------------

    def token(self, form: Mapping[str, str], origin: str) -> Issued:
        self._maybe_sweep()
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form, origin)
        if grant_type == "refresh_token":
            client = self.clients.get(form.get("client_id"))
            resource = self.check_resource(origin, form["resource"]) if form.get("resource") else None
            scopes = form["scope"].split() if form.get("scope") else None
            return self.grants.refresh(form.get("refresh_token"), client_id=client.client_id, resource=resource, scopes=scopes)
        raise OAuthError("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")

    def _exchange_code(self, form: Mapping[str, str], origin: str) -> Issued:
        client = self.clients.get(form.get("client_id"))
        try:
            record = self.codes.redeem(
                form.get("code"), client_id=client.client_id, redirect_uri=form.get("redirect_uri"),
                verifier=form.get("code_verifier"),
            )
        except CodeReused as exc:
            if exc.grant_id:
                self.grants.revoke(exc.grant_id, reason="authorization code reused")
            raise
        if form.get("resource") and self.check_resource(origin, form["resource"]) != record.resource:
            raise OAuthError("invalid_target", "resource differs from the authorization request's")
        issued = self.grants.create(
            client_id=client.client_id, client_name=client.client_name, app=client.app, user=record.user,
            scopes=record.scopes, resource=record.resource,
        )
        self.codes.attach_grant(record.id, issued.grant.id)
        self.clients.mark_used(client.client_id)
        return issued

    def revoke(self, form: Mapping[str, str]) -> None:
        """RFC 7009: always succeeds for the caller; a valid token's grant is revoked."""
        self.grants.revoke_token(form.get("token"), form.get("client_id"))

    def sweep(self) -> int:
        """Delete expired clients, codes, access tokens and long-dead grants; returns how many objects."""
        return self.clients.sweep() + self.codes.sweep() + self.grants.sweep()

    def _maybe_sweep(self) -> None:
        """No scheduler needed: the token endpoint sweeps at most once an hour per process."""
        with self._lock:
            if self.clock() < self._next_sweep:
                return
            self._next_sweep = self.clock() + SWEEP_SECONDS
        try:
            self.sweep()
        except Exception:  # housekeeping never fails a token request
            log.warning("OAuth sweep failed; next try in an hour", exc_info=True)
