"""Owner sign-in and the sealed consent form (CSRF nonce, cross-user approval)."""

from __future__ import annotations

import pytest
from membucket.auth.oauth import OAuthError

from .conftest import ORIGIN, REDIRECT, pkce_pair


@pytest.fixture
def request_(server, client):
    _, challenge = pkce_pair()
    return server.authorization_request({"response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT,
                                         "code_challenge": challenge, "code_challenge_method": "S256", "state": "x"}, ORIGIN)


def test_owner_admin_token_signs_in_for_its_user(server, tokens):
    plain, _ = tokens.create("alice", None, ["admin"])
    assert server.sign_in(plain, "") == "alice"
    assert server.sign_in(plain, "alice") == "alice"


@pytest.mark.parametrize("app, scopes", [("cursor", ["admin"]), (None, ["write"]), (None, ["read"])])
def test_only_owner_admin_tokens_approve(server, tokens, app, scopes):
    plain, _ = tokens.create("alice", app, scopes)
    with pytest.raises(OAuthError) as exc:
        server.sign_in(plain, "alice")
    assert exc.value.error == "access_denied"


def test_cross_user_approval_refused(server, tokens):
    plain, _ = tokens.create("alice", None, ["admin"])
    with pytest.raises(OAuthError, match="another user"):
        server.sign_in(plain, "bob")


def test_passphrase_names_the_user(server):
    assert server.sign_in("correct horse battery", "bob") == "bob"
    with pytest.raises(OAuthError):
        server.sign_in("correct horse battery", "../x")
    with pytest.raises(OAuthError):
        server.sign_in("wrong", "bob")
    with pytest.raises(OAuthError):
        server.sign_in("", "bob")


def test_no_passphrase_configured_means_tokens_only(store, tokens, clock):
    from membucket.auth.oauth import AuthorizationServer

    server = AuthorizationServer(store, tokens, clock=clock)
    with pytest.raises(OAuthError):
        server.sign_in("anything", "bob")


def test_failed_sign_ins_are_limited(server):
    for _ in range(20):
        with pytest.raises(OAuthError):
            server.sign_in("wrong", "bob")
    with pytest.raises(OAuthError) as exc:
        server.sign_in("correct horse battery", "bob")
    assert exc.value.status == 429


def test_sealed_request_bound_to_the_browser_nonce(server, request_):
    nonce = server.new_nonce()
    sealed = server.seal_request(request_, nonce, user="alice")
    assert server.open_request(sealed, nonce) == (request_, "alice")
    with pytest.raises(OAuthError):
        server.open_request(sealed, server.new_nonce())  # another browser's cookie
    with pytest.raises(OAuthError):
        server.open_request(sealed, None)
    body, mac = sealed.split(".")
    with pytest.raises(OAuthError):
        server.open_request(body + "x." + mac, nonce)  # tampered


def test_sealed_request_expires(server, request_, clock):
    nonce = server.new_nonce()
    sealed = server.seal_request(request_, nonce)
    clock.now += 601
    with pytest.raises(OAuthError):
        server.open_request(sealed, nonce)


def test_approve_and_deny_echo_state(server, request_):
    assert "state=x" in server.approve(request_, "alice", ["read"])
    assert server.deny(request_) == REDIRECT + "?error=access_denied&error_description=the+owner+declined&state=x"
    with pytest.raises(OAuthError):
        server.approve(request_, "alice", ["admin"])


def test_key_shared_by_processes(store, tokens, request_, server):
    from membucket.auth.oauth import AuthorizationServer

    other = AuthorizationServer(store, tokens, clock=server.clock)
    nonce = server.new_nonce()
    assert other.open_request(server.seal_request(request_, nonce), nonce)[0] == request_
