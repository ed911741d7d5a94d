"""The OAuth endpoints over real HTTP: metadata, registration, the consent page, tokens, and the attacks."""

from __future__ import annotations

import contextlib
from urllib.parse import urlencode

import httpx
import pytest
from membucket.auth import TokenStore
from membucket.auth.oauth import AuthorizationServer, OAuthConfig
from membucket.caller import ServerState
from membucket.http.app import LOOPBACK_HOSTS, create_app

from tests.support.factories import make_mb
from tests.support.live import live_server
from tests.support.oauth import consent_over_http, pkce_pair, query_of, sealed_field

REDIRECT = "http://127.0.0.1:9/callback"
PASSPHRASE = "correct horse battery staple"


@contextlib.contextmanager
def oauth_server(tmp_path, **config):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "cache")
    tokens = TokenStore(mb.store, cache_seconds=10.0)
    oauth = AuthorizationServer(mb.store, tokens, OAuthConfig(owner_passphrase=PASSPHRASE, **config))
    state = ServerState(mb=mb, tokens=tokens, auth_required=True, allowed_hosts=list(LOOPBACK_HOSTS), oauth=oauth)
    with live_server(create_app(state)) as url:
        yield url, state


@pytest.fixture
def srv(tmp_path):
    with oauth_server(tmp_path) as s:
        yield s


@pytest.fixture
def http(srv):
    with httpx.Client(base_url=srv[0], timeout=30, follow_redirects=False) as c:
        yield c


def register(http, **extra):
    r = http.post("/register", json={"client_name": "Claude", "redirect_uris": [REDIRECT], **extra})
    assert r.status_code == 201, r.text
    return r.json()


def auth_url(base, client_id, challenge, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "xyz",
              "code_challenge": challenge, "code_challenge_method": "S256", "resource": base + "/mcp", "scope": "write"}
    params.update(extra)
    return base + "/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def owner_token(state, user="alice"):
    return state.tokens.create(user, None, ["admin"])[0]


def get_code(srv, http, client, **extra):
    verifier, challenge = pkce_pair()
    location = consent_over_http(auth_url(srv[0], client["client_id"], challenge, **extra), owner_token(srv[1]))
    q = query_of(location)
    assert location.startswith(REDIRECT + "?") and q["state"] == "xyz"
    return q["code"], verifier


def exchange(http, client, code, verifier, **extra):
    return http.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                     "client_id": client["client_id"], "code_verifier": verifier, **extra})


def test_metadata_documents(srv, http):
    url = srv[0]
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/mcp"):
        doc = http.get(path).json()
        assert doc["issuer"] == url and doc["token_endpoint"] == url + "/token"
        assert doc["code_challenge_methods_supported"] == ["S256"] and doc["token_endpoint_auth_methods_supported"] == ["none"]
    assert http.get("/.well-known/oauth-protected-resource").json()["resource"] == url + "/mcp"
    prm = http.get("/.well-known/oauth-protected-resource/mcp/claude/http/alice").json()
    assert prm["resource"] == url + "/mcp/claude/http/alice" and prm["authorization_servers"] == [url]
    assert http.get("/.well-known/oauth-protected-resource/api/v1").status_code == 404


@pytest.mark.parametrize("path", ["/mcp", "/mcp/claude/http/alice"])
def test_mcp_401_names_the_resource_metadata(srv, http, path):
    r = http.post(path, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == f'Bearer resource_metadata="{srv[0]}/.well-known/oauth-protected-resource{path}"'
    bad = http.post(path, json={}, headers={"Authorization": "Bearer mba_0123456789abcdef_" + "x" * 43})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]


def test_whole_flow_over_http(srv, http):
    client = register(http)
    code, verifier = get_code(srv, http, client)
    r = exchange(http, client, code, verifier, resource=srv[0] + "/mcp")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    tokens = r.json()
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "write"
    # the access token works on MCP, not on the REST API
    mcp = http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    headers={"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json, text/event-stream"})
    assert mcp.status_code == 200, mcp.text
    rest = http.get("/api/v1/memories", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert rest.status_code == 401
    # refresh, then the old refresh token again revokes everything
    r2 = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client["client_id"]})
    assert r2.status_code == 200
    again = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client["client_id"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    mcp = http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"Authorization": f"Bearer {r2.json()['access_token']}"})
    assert mcp.status_code == 401


def test_consent_page_security_headers(srv, http):
    client = register(http)
    _, challenge = pkce_pair()
    page = http.get(auth_url(srv[0], client["client_id"], challenge))
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "form-action 'self' http://127.0.0.1:9" in csp
    assert page.headers["x-frame-options"] == "DENY" and "<script" not in page.text
    cookie = page.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "Path=/authorize" in cookie


def test_hostile_client_name_is_escaped(srv, http):
    client = register(http, client_name='<img src=x onerror=alert(1)>"')
    _, challenge = pkce_pair()
    page = http.get(auth_url(srv[0], client["client_id"], challenge)).text
    assert "<img src=x" not in page and "img src x onerror alert 1" in page  # kept as text, stripped of markup


def test_consent_without_sign_in_refused(srv, http):
    client = register(http)
    _, challenge = pkce_pair()
    page = http.get(auth_url(srv[0], client["client_id"], challenge))
    r = http.post("/authorize", data={"request": sealed_field(page.text), "action": "approve", "scope": "write"})
    assert r.status_code == 403 and "location" not in r.headers


def test_consent_form_needs_the_browser_cookie(srv, http):
    """CSRF: a form lifted from one browser does not work in another."""
    client = register(http)
    _, challenge = pkce_pair()
    page = http.get(auth_url(srv[0], client["client_id"], challenge))
    with httpx.Client(base_url=srv[0], timeout=30) as other:
        r = other.post("/authorize", data={"request": sealed_field(page.text), "action": "signin", "credential": owner_token(srv[1])})
    assert r.status_code == 403


def test_cross_site_post_refused(srv, http):
    client = register(http)
    _, challenge = pkce_pair()
    page = http.get(auth_url(srv[0], client["client_id"], challenge))
    r = http.post("/authorize", headers={"Origin": "https://evil.example"},
                  data={"request": sealed_field(page.text), "action": "signin", "credential": owner_token(srv[1])})
    assert r.status_code == 403


def test_cross_user_approval_refused(srv, http):
    client = register(http)
    _, challenge = pkce_pair()
    page = http.get(auth_url(srv[0], client["client_id"], challenge))
    r = http.post("/authorize", data={"request": sealed_field(page.text), "action": "signin",
                                      "credential": owner_token(srv[1], "alice"), "user": "bob"})
    assert r.status_code == 403 and "another user" in r.text


def test_passphrase_sign_in_names_the_user(srv, http):
    client = register(http)
    verifier, challenge = pkce_pair()
    location = consent_over_http(auth_url(srv[0], client["client_id"], challenge), PASSPHRASE, user="bob", scope="read")
    tokens = exchange(http, client, query_of(location)["code"], verifier).json()
    grant = srv[1].oauth.grants.verify_access(tokens["access_token"])
    assert grant.identity.user == "bob" and grant.identity.scopes == {"read"}


def test_deny_goes_back_with_access_denied(srv, http):
    client = register(http)
    _, challenge = pkce_pair()
    page = http.get(auth_url(srv[0], client["client_id"], challenge))
    r = http.post("/authorize", data={"request": sealed_field(page.text), "action": "deny"})
    assert r.status_code == 303 and query_of(r.headers["location"]) == {
        "error": "access_denied", "error_description": "the owner declined", "state": "xyz"}


def test_no_open_redirect(srv, http):
    client = register(http)
    _, challenge = pkce_pair()
    r = http.get(auth_url(srv[0], client["client_id"], challenge, redirect_uri="https://evil.example/cb"))
    assert r.status_code == 400 and "location" not in r.headers
    r = http.get(auth_url(srv[0], "mcl_" + "0" * 24, challenge))
    assert r.status_code == 400 and "location" not in r.headers


def test_plain_pkce_refused_back_to_client(srv, http):
    client = register(http)
    r = http.get(auth_url(srv[0], client["client_id"], "x" * 43, code_challenge_method="plain"))
    assert r.status_code == 303 and query_of(r.headers["location"])["error"] == "invalid_request"


def test_attacks_on_the_token_endpoint(srv, http):
    client = register(http)
    code, verifier = get_code(srv, http, client)
    wrong, _ = pkce_pair()
    r = exchange(http, client, code, wrong)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    code, verifier = get_code(srv, http, client)
    r = exchange(http, client, code, verifier, redirect_uri="http://127.0.0.1:9/other")
    assert r.json()["error"] == "invalid_grant"
    code, verifier = get_code(srv, http, client)
    r = exchange(http, client, code, verifier, resource="https://other.example/mcp")
    assert r.json()["error"] == "invalid_target"
    code, verifier = get_code(srv, http, client)
    assert exchange(http, client, code, verifier).status_code == 200
    assert exchange(http, client, code, verifier).json()["error"] == "invalid_grant"  # reused
    assert http.post("/token", data={"grant_type": "password"}).json()["error"] == "unsupported_grant_type"
    assert http.post("/token", json={"grant_type": "authorization_code"}).json()["error"] == "invalid_request"
    r = http.post("/token", data={"grant_type": "authorization_code", "client_id": "nope"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_token_for_another_resource_refused_at_use(tmp_path):
    """Two servers share a bucket under different public URLs: a token for one is refused by the other."""
    with oauth_server(tmp_path) as (url, state):
        state.public_url = "https://memory-a.example"
        with httpx.Client(base_url=url, timeout=30, follow_redirects=False) as http:
            client = register(http)
            verifier, challenge = pkce_pair()
            params = query_of(auth_url("https://memory-a.example", client["client_id"], challenge))
            location = state.oauth.approve(state.oauth.authorization_request(params, "https://memory-a.example"), "alice", ["write"])
            tokens = exchange(http, client, query_of(location)["code"], verifier).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json, text/event-stream"}
            ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            assert http.post("/mcp", json=ping, headers=headers).status_code == 200
            state.public_url = "https://memory-b.example"
            r = http.post("/mcp", json=ping, headers=headers)
            assert r.status_code == 401 and "another resource" in r.text


def test_registration_refusals(srv, http):
    r = http.post("/register", json={"redirect_uris": ["http://evil.example/cb"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_redirect_uri"
    r = http.post("/register", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_metadata"


def test_registration_rate_limited(tmp_path):
    with oauth_server(tmp_path, registrations_per_minute=2) as (url, _), httpx.Client(base_url=url, timeout=30) as http:
        assert [http.post("/register", json={"redirect_uris": [REDIRECT]}).status_code for _ in range(3)] == [201, 201, 429]


def test_revoke_endpoint(srv, http):
    client = register(http)
    code, verifier = get_code(srv, http, client)
    tokens = exchange(http, client, code, verifier).json()
    assert http.post("/revoke", data={"token": tokens["access_token"], "client_id": client["client_id"]}).status_code == 200
    assert http.post("/revoke", data={"token": "whatever"}).status_code == 200
    r = http.post("/mcp", json={}, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 401


def test_no_oauth_without_auth(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "cache")
    state = ServerState(mb=mb, tokens=TokenStore(mb.store), auth_required=False, allowed_hosts=list(LOOPBACK_HOSTS))
    with live_server(create_app(state)) as url:
        assert httpx.get(url + "/.well-known/oauth-protected-resource").status_code == 404


def test_grants_listed_and_revoked_through_the_api(srv, http):
    client = register(http)
    code, verifier = get_code(srv, http, client)
    tokens = exchange(http, client, code, verifier).json()
    owner = {"Authorization": f"Bearer {owner_token(srv[1])}"}
    [grant] = http.get("/api/v1/tokens/oauth", headers=owner).json()["items"]
    assert grant["client_name"] == "Claude" and grant["app"] == "claude" and grant["scopes"] == ["write"]
    assert "refresh_sha256" not in grant and "used_refresh" not in grant
    other_app = {"Authorization": f"Bearer {srv[1].tokens.create('alice', 'cursor', ['admin'])[0]}"}
    assert http.get("/api/v1/tokens/oauth", headers=other_app).json()["items"] == []
    assert http.delete(f"/api/v1/tokens/oauth/{grant['id']}", headers=other_app).status_code == 404
    bob = {"Authorization": f"Bearer {owner_token(srv[1], 'bob')}"}
    assert http.get("/api/v1/tokens/oauth", headers=bob).json()["items"] == []
    assert http.delete(f"/api/v1/tokens/oauth/{grant['id']}", headers=bob).status_code == 404
    revoked = http.delete(f"/api/v1/tokens/oauth/{grant['id']}", headers=owner)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    r = http.post("/mcp", json={}, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 401
    assert http.get("/api/v1/connect", headers=owner).json()["oauth_url"] == srv[0] + "/mcp"


def test_browser_clients_may_discover_register_and_exchange_cross_origin(srv, http):
    web = {"Origin": "https://inspector.example"}
    pre = http.options("/token", headers={**web, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    meta = http.get("/.well-known/oauth-authorization-server", headers=web)
    assert meta.status_code == 200 and meta.headers["access-control-allow-origin"] == "*"
    reg = http.post("/register", json={"redirect_uris": [REDIRECT]}, headers=web)
    assert reg.status_code == 201 and reg.headers["access-control-allow-origin"] == "*"
    # the consent form and the API stay same-origin
    assert http.post("/authorize", data={"action": "deny"}, headers=web).status_code == 403
    assert "access-control-allow-origin" not in http.get("/api/v1/health", headers=web).headers
