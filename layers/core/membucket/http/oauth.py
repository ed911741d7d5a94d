"""The OAuth endpoints MCP clients discover and use, served when auth is on.

- ``/.well-known/oauth-protected-resource[/mcp...]`` (RFC 9728) and
  ``/.well-known/oauth-authorization-server[/mcp...]`` (RFC 8414): the metadata documents;
- ``POST /register`` (RFC 7591), ``GET|POST /authorize`` (the consent page), ``POST /token``,
  ``POST /revoke`` (RFC 7009).

Errors are RFC 6749 §5.2 JSON (``{"error", "error_description"}``); on /authorize, errors
before the client and its redirect URI are trusted show a page and never redirect.
The consent form is bound to the browser by a nonce cookie (CSRF) sealed into the form.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..auth.oauth import (
    AuthorizationServer,
    OAuthError,
    RedirectError,
    authorization_server_metadata,
    protected_resource_metadata,
)
from ..auth.oauth.server import MCP_PATH
from ..caller import ServerState, public_origin
from ..ui.consent import consent_page, error_page, page_headers, signin_page
from .guards import RateLimiter

__all__ = ["NONCE_COOKIE", "oauth_routes"]

NONCE_COOKIE = "mb_oauth_nonce"
_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def _oauth_error(exc: OAuthError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=_NO_STORE)


def _single(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Form or query fields; a parameter sent twice is invalid_request (RFC 6749 §3.1)."""
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise OAuthError("invalid_request", f"parameter {key!r} given more than once")
        out[key] = value
    return out


async def _form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send the parameters as application/x-www-form-urlencoded")
    try:
        return _single(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "the body is not UTF-8") from None


def _mcp_suffix(path: str) -> bool:
    return path == "" or path == MCP_PATH.lstrip("/") or path.startswith(MCP_PATH.lstrip("/") + "/")


class OAuthEndpoints:
    def __init__(self, state: ServerState, oauth: AuthorizationServer | None, register_per_minute: int = 10) -> None:
        self.state = state
        self._oauth = oauth
        self.register_limiter = RateLimiter(register_per_minute)

    @property
    def oauth(self) -> AuthorizationServer:
        assert self._oauth is not None, "only the metadata routes exist without an authorization server"
        return self._oauth

    def origin(self, request: Request) -> str:
        return public_origin(self.state, request.scope)

    # metadata ------------------------------------------------------------------------------

    async def protected_resource(self, request: Request) -> Response:
        suffix = request.path_params.get("path", "")
        if not _mcp_suffix(suffix):
            return JSONResponse({"error": "not_found", "error_description": "no protected resource here"}, status_code=404)
        origin = self.origin(request)
        resource = f"{origin}/{suffix}" if suffix else origin + MCP_PATH
        return JSONResponse(protected_resource_metadata(resource, [self.state.oauth_issuer or origin]))

    async def authorization_server(self, request: Request) -> Response:
        if not _mcp_suffix(request.path_params.get("path", "")):
            return JSONResponse({"error": "not_found", "error_description": "no authorization server here"}, status_code=404)
        return JSONResponse(authorization_server_metadata(self.origin(request)))

    # registration --------------------------------------------------------------------------

    async def register(self, request: Request) -> Response:
        client_addr = (request.client.host if request.client else "?")
        if self.register_limiter.retry_after(client_addr):
            return _oauth_error(OAuthError("temporarily_unavailable", "too many registrations from this address", 429))
        try:
            metadata = await request.json()
        except ValueError:
            return _oauth_error(OAuthError("invalid_client_metadata", "the body must be JSON"))
        try:
            client = self.oauth.register(metadata)
        except OAuthError as exc:
            return _oauth_error(exc)
        return JSONResponse(client.registration(), status_code=201, headers=_NO_STORE)

    # authorization -------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._authorize_post(request)
        try:
            auth = self.oauth.authorization_request(_single(list(request.query_params.multi_items())), self.origin(request))
        except RedirectError as exc:
            return RedirectResponse(exc.location, status_code=303, headers=_NO_STORE)
        except OAuthError as exc:
            return HTMLResponse(error_page(exc.description), status_code=400, headers=page_headers())
        nonce = self.oauth.new_nonce()
        page = signin_page(
            client_name=auth.client_name, redirect_uri=auth.redirect_uri, sealed=self.oauth.seal_request(auth, nonce),
            passphrase=bool(self.oauth.config.owner_passphrase),
        )
        response = HTMLResponse(page, headers=page_headers(auth.redirect_uri))
        response.set_cookie(
            NONCE_COOKIE, nonce, max_age=600, path="/authorize", httponly=True, samesite="strict",
            secure=self.origin(request).startswith("https://"),
        )
        return response

    async def _authorize_post(self, request: Request) -> Response:
        try:
            form = await _form(request)
            nonce = request.cookies.get(NONCE_COOKIE)
            auth, user = self.oauth.open_request(form.get("request"), nonce)
        except OAuthError as exc:
            return HTMLResponse(error_page(exc.description), status_code=exc.status, headers=page_headers())
        action = form.get("action")
        if action == "deny":
            return RedirectResponse(self.oauth.deny(auth), status_code=303, headers=_NO_STORE)
        if action == "signin":
            try:
                user = self.oauth.sign_in(form.get("credential"), form.get("user"))
            except OAuthError as exc:
                page = signin_page(
                    client_name=auth.client_name, redirect_uri=auth.redirect_uri, sealed=form["request"],
                    passphrase=bool(self.oauth.config.owner_passphrase), error=exc.description,
                )
                return HTMLResponse(page, status_code=exc.status, headers=page_headers(auth.redirect_uri))
            client = self.oauth.clients.get(auth.client_id)
            page = consent_page(
                client_name=auth.client_name, app=client.app, redirect_uri=auth.redirect_uri,
                sealed=self.oauth.seal_request(auth, nonce or "", user=user), user=user, scopes=auth.scopes,
            )
            return HTMLResponse(page, headers=page_headers(auth.redirect_uri))
        if action == "approve":
            if user is None:
                return HTMLResponse(error_page("sign in before approving"), status_code=403, headers=page_headers())
            try:
                location = self.oauth.approve(auth, user, [form.get("scope", "")])
            except OAuthError as exc:
                return HTMLResponse(error_page(exc.description), status_code=exc.status, headers=page_headers())
            return RedirectResponse(location, status_code=303, headers=_NO_STORE)
        return HTMLResponse(error_page("unknown action"), status_code=400, headers=page_headers())

    # tokens --------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        try:
            issued = self.oauth.token(await _form(request), self.origin(request))
        except OAuthError as exc:
            return _oauth_error(exc)
        return JSONResponse(issued.body(), headers=_NO_STORE)

    async def revoke(self, request: Request) -> Response:
        try:
            self.oauth.revoke(await _form(request))
        except OAuthError as exc:
            return _oauth_error(exc)
        return Response(status_code=200, headers=_NO_STORE)


def oauth_routes(state: ServerState) -> list[Route]:
    """The routes; only the resource metadata with an outside issuer (JWT mode); none when OAuth is
    off (auth off, or MEMBUCKET_OAUTH=false)."""
    if state.oauth is None and not state.oauth_issuer:
        return []
    ep = OAuthEndpoints(state, state.oauth)
    metadata = [
        Route("/.well-known/oauth-protected-resource", ep.protected_resource, methods=["GET"]),
        Route("/.well-known/oauth-protected-resource/{path:path}", ep.protected_resource, methods=["GET"]),
    ]
    if state.oauth is None:
        return metadata
    return metadata + [
        Route("/.well-known/oauth-authorization-server", ep.authorization_server, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server/{path:path}", ep.authorization_server, methods=["GET"]),
        Route("/register", ep.register, methods=["POST"]),
        Route("/authorize", ep.authorize, methods=["GET", "POST"]),
        Route("/token", ep.token, methods=["POST"]),
        Route("/revoke", ep.revoke, methods=["POST"]),
    ]
