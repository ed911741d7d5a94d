"""Dynamic client registration: what is accepted, what is refused, and expiry of unused clients."""

from __future__ import annotations

import pytest
from membucket.auth.oauth import OAuthError
from membucket.auth.oauth.clients import check_redirect_uri, sanitize_name


@pytest.mark.parametrize("uri", [
    "https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1:33418/callback", "http://localhost:8080/cb",
    "http://[::1]:9000/cb", "https://vscode.dev/redirect?x=1",
])
def test_redirect_uris_accepted(uri):
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize("uri", [
    "http://evil.example/cb", "javascript:alert(1)", "cursor://anysphere/cb", "https://a.example/cb#frag",
    "https://user:pw@a.example/cb", "https:///nohost", "", "https://a.example/" + "x" * 600, "https://a.example/\ncb",
    "data:text/html,hi", 42, "http://127.0.0.1.evil.example/cb",
])
def test_redirect_uris_refused(uri):
    with pytest.raises(OAuthError) as exc:
        check_redirect_uri(uri)
    assert exc.value.error == "invalid_redirect_uri"


@pytest.mark.parametrize("raw, name", [
    ("Claude", "Claude"), ("  Cursor  ", "Cursor"), ("<script>alert(1)</script>", "script alert 1 script"),
    ("a/../b", "a . b"), ("x" * 100, "x" * 40), (None, "oauth client"), ("🙂", "oauth client"), ("VS Code", "VS Code"),
    ("-.-", "oauth client"),
])
def test_names_sanitized(raw, name):
    assert sanitize_name(raw) == name


def test_register_returns_public_client(server):
    client = server.register({"client_name": "Claude", "redirect_uris": ["https://claude.ai/cb"], "token_endpoint_auth_method": "client_secret_post"})
    body = client.registration()
    assert body["token_endpoint_auth_method"] == "none" and "client_secret" not in body
    assert body["client_id"].startswith("mcl_") and client.app == "claude"
    assert server.clients.get(client.client_id).redirect_uris == ["https://claude.ai/cb"]


@pytest.mark.parametrize("metadata, error", [
    ([], "invalid_client_metadata"),
    ({}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://a.example/cb"] * 6}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
    ({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}, "invalid_client_metadata"),
    ({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
])
def test_register_refuses(server, metadata, error):
    with pytest.raises(OAuthError) as exc:
        server.register(metadata)
    assert exc.value.error == error and exc.value.status == 400


def test_registration_rate_limited_and_capped(store, tokens, clock):
    from membucket.auth.oauth import AuthorizationServer, OAuthConfig

    server = AuthorizationServer(store, tokens, OAuthConfig(registrations_per_minute=3, max_clients=5), clock=clock)
    meta = {"redirect_uris": ["https://a.example/cb"]}
    for _ in range(3):
        server.register(meta)
    with pytest.raises(OAuthError) as exc:
        server.register(meta)
    assert exc.value.status == 429
    clock.now += 61
    server.register(meta)
    server.register(meta)
    with pytest.raises(OAuthError, match="too many registered clients"):
        server.register(meta)


def test_unused_clients_expire_used_ones_stay(server, clock):
    idle = server.register({"redirect_uris": ["https://a.example/cb"]})
    used = server.register({"redirect_uris": ["https://a.example/cb"]})
    server.clients.mark_used(used.client_id)
    clock.now += 86_401
    with pytest.raises(OAuthError) as exc:
        server.clients.get(idle.client_id)
    assert exc.value.error == "invalid_client"
    assert server.clients.get(used.client_id).client_id == used.client_id
    assert server.clients.sweep() == 1


@pytest.mark.parametrize("client_id", [None, "", "mcl_x", "../oauth/key", "mcl_" + "0" * 24])
def test_unknown_client_ids(server, client_id):
    with pytest.raises(OAuthError) as exc:
        server.clients.get(client_id)
    assert exc.value.error == "invalid_client"


def test_at_the_cap_unused_clients_are_swept_first(store, tokens, clock):
    from membucket.auth.oauth import AuthorizationServer, OAuthConfig

    server = AuthorizationServer(store, tokens, OAuthConfig(max_clients=2), clock=clock)
    meta = {"redirect_uris": ["https://a.example/cb"]}
    used = server.register(meta)
    server.clients.mark_used(used.client_id)
    server.register(meta)
    with pytest.raises(OAuthError):
        server.register(meta)
    clock.now += 86_401  # the unused one expires; the used one stays
    server.register(meta)
    assert server.clients.get(used.client_id)
