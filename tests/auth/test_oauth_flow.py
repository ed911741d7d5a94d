"""Authorization request, code exchange, refresh rotation and revocation, including the attacks."""

from __future__ import annotations

import threading

import pytest
from membucket.auth import InvalidToken
from membucket.auth.oauth import OAuthError, RedirectError

from .conftest import ORIGIN, REDIRECT, authorize, exchange, pkce_pair


def test_code_exchange_gives_resource_bound_tokens(server, client):
    code, verifier = authorize(server, client)
    issued = exchange(server, client, code, verifier, resource=ORIGIN + "/mcp")
    body = issued.body()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "write"
    access = server.grants.verify_access(body["access_token"])
    assert (access.identity.user, access.identity.app, access.identity.scopes) == ("alice", "claude", frozenset({"write"}))
    assert access.resource == ORIGIN + "/mcp"
    assert server.clients.get(client.client_id).last_used_at is not None


def test_only_hashes_are_stored(server, client, store):
    code, verifier = authorize(server, client)
    body = exchange(server, client, code, verifier).body()
    everything = b"".join(store.get(o.key).body for o in store.list(""))
    for secret in (code, body["access_token"], body["refresh_token"]):
        assert secret.split("_", 2)[2].encode() not in everything


@pytest.mark.parametrize("change, error", [
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge": "short"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"resource": "https://other.example/mcp"}, "invalid_target"),
    ({"resource": ORIGIN + "/api/v1"}, "invalid_target"),
])
def test_bad_requests_go_back_to_the_client_with_state(server, client, change, error):
    _, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT, "state": "s t",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(change)
    params = {k: v for k, v in params.items() if v is not None}
    with pytest.raises(RedirectError) as exc:
        server.authorization_request(params, ORIGIN)
    assert exc.value.error == error
    assert exc.value.location.startswith(REDIRECT + "?error=" + error) and "state=s+t" in exc.value.location


@pytest.mark.parametrize("redirect", ["https://client.example/callback/", "https://client.example/other", "https://evil.example/callback"])
def test_unregistered_redirect_is_never_followed(server, client, redirect):
    _, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": client.client_id, "redirect_uri": redirect,
              "code_challenge": challenge, "code_challenge_method": "S256"}
    with pytest.raises(OAuthError) as exc:
        server.authorization_request(params, ORIGIN)
    assert not isinstance(exc.value, RedirectError) and exc.value.error == "invalid_request"


def test_wrong_verifier_refused_and_burns_the_code(server, client):
    code, verifier = authorize(server, client)
    other, _ = pkce_pair()
    with pytest.raises(OAuthError, match="code_verifier"):
        exchange(server, client, code, other)
    with pytest.raises(OAuthError, match="already used"):
        exchange(server, client, code, verifier)


def test_reused_code_refused_and_revokes_its_grant(server, client):
    code, verifier = authorize(server, client)
    body = exchange(server, client, code, verifier).body()
    with pytest.raises(OAuthError) as exc:
        exchange(server, client, code, verifier)
    assert exc.value.error == "invalid_grant"
    with pytest.raises(InvalidToken):
        server.grants.verify_access(body["access_token"])


def _winners(n: int, call) -> int:
    """Run ``call`` in ``n`` threads at once; how many got an answer rather than an OAuthError."""
    results: list = []

    def go():
        try:
            results.append(call())
        except OAuthError as exc:
            results.append(exc)

    threads = [threading.Thread(target=go) for _ in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == n
    return sum(not isinstance(r, OAuthError) for r in results)


def test_concurrent_redemption_has_one_winner(server, client):
    code, verifier = authorize(server, client)
    assert _winners(8, lambda: exchange(server, client, code, verifier)) == 1


def test_swapped_redirect_uri_refused(server, client):
    server.clients.records.update(client.client_id, lambda d: {**d, "redirect_uris": [REDIRECT, "https://client.example/two"]})
    code, verifier = authorize(server, client)
    with pytest.raises(OAuthError, match="redirect_uri"):
        exchange(server, client, code, verifier, redirect_uri="https://client.example/two")


def test_code_for_another_client_refused(server, client):
    thief = server.register({"client_name": "thief", "redirect_uris": [REDIRECT]})
    code, verifier = authorize(server, client)
    with pytest.raises(OAuthError, match="another client"):
        exchange(server, client, code, verifier, client_id=thief.client_id)


def test_expired_code_refused(server, client, clock):
    code, verifier = authorize(server, client)
    clock.now += 61
    with pytest.raises(OAuthError, match="expired"):
        exchange(server, client, code, verifier)


def test_token_for_another_resource_refused_at_exchange(server, client):
    code, verifier = authorize(server, client)
    with pytest.raises(OAuthError) as exc:
        exchange(server, client, code, verifier, resource="https://other.example/mcp")
    assert exc.value.error == "invalid_target"


def test_resource_binding(server):
    allows = server.resource_allows
    assert allows(ORIGIN + "/mcp", ORIGIN + "/mcp")
    assert allows(ORIGIN + "/mcp", ORIGIN + "/mcp/claude/http/alice")
    assert not allows(ORIGIN + "/mcp", "https://other.example/mcp")
    assert not allows(ORIGIN + "/mcp", ORIGIN + "/mcpx")
    assert not allows(ORIGIN + "/mcp/claude/http/alice", ORIGIN + "/mcp")


def test_refresh_rotates_and_reuse_revokes_the_grant(server, client):
    code, verifier = authorize(server, client)
    first = exchange(server, client, code, verifier).body()
    form = {"grant_type": "refresh_token", "client_id": client.client_id, "refresh_token": first["refresh_token"]}
    second = server.token(form, ORIGIN).body()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert server.grants.verify_access(second["access_token"]).identity.user == "alice"
    with pytest.raises(OAuthError, match="already used"):
        server.token(form, ORIGIN)  # the old refresh token again: stolen or replayed
    for token in (first["access_token"], second["access_token"]):
        with pytest.raises(InvalidToken):
            server.grants.verify_access(token)
    with pytest.raises(OAuthError, match="revoked"):
        server.token({**form, "refresh_token": second["refresh_token"]}, ORIGIN)


def test_refresh_by_another_client_refused(server, client):
    thief = server.register({"client_name": "thief", "redirect_uris": [REDIRECT]})
    code, verifier = authorize(server, client)
    refresh = exchange(server, client, code, verifier).body()["refresh_token"]
    with pytest.raises(OAuthError, match="another client"):
        server.token({"grant_type": "refresh_token", "client_id": thief.client_id, "refresh_token": refresh}, ORIGIN)


def test_refresh_narrows_scope_only(server, client):
    code, verifier = authorize(server, client, scopes=("read",))
    refresh = exchange(server, client, code, verifier).body()["refresh_token"]
    with pytest.raises(OAuthError) as exc:
        server.token({"grant_type": "refresh_token", "client_id": client.client_id, "refresh_token": refresh, "scope": "write"}, ORIGIN)
    assert exc.value.error == "invalid_scope"


def test_access_token_expires(server, client, clock):
    code, verifier = authorize(server, client)
    access = exchange(server, client, code, verifier).body()["access_token"]
    clock.now += 3601
    with pytest.raises(InvalidToken, match="expired"):
        server.grants.verify_access(access)


def test_revoke_endpoint_and_owner_revoke(server, client):
    code, verifier = authorize(server, client)
    body = exchange(server, client, code, verifier).body()
    server.revoke({"token": "nonsense"})  # RFC 7009: fine
    server.revoke({"token": body["refresh_token"], "client_id": client.client_id})
    with pytest.raises(InvalidToken, match="revoked"):
        server.grants.verify_access(body["access_token"])
    [grant] = server.grants.list("alice")
    assert grant.public()["revoked_at"] and "refresh_sha256" not in grant.public()
    assert server.grants.list("bob") == []


def test_unsupported_grant_type(server):
    with pytest.raises(OAuthError) as exc:
        server.token({"grant_type": "password"}, ORIGIN)
    assert exc.value.error == "unsupported_grant_type"


def test_sweep_forgets_dead_state(server, client, clock, store):
    code, verifier = authorize(server, client)
    exchange(server, client, code, verifier)
    clock.now += 40 * 86_400
    server.sweep()
    assert list(store.list("oauth/access/")) == [] and list(store.list("oauth/codes/")) == []


def test_token_endpoint_sweeps_hourly(server, client, clock, store):
    code, verifier = authorize(server, client)
    exchange(server, client, code, verifier)
    assert list(store.list("oauth/codes/"))
    clock.now += 3601
    code, verifier = authorize(server, client)
    exchange(server, client, code, verifier)  # sweeps first: the old code and its marker go
    assert len([o for o in store.list("oauth/codes/") if o.key.endswith(".json")]) == 1


def test_redirect_uri_is_required(server, client):
    _, challenge = pkce_pair()
    with pytest.raises(OAuthError, match="redirect_uri is required") as exc:
        server.authorization_request({"response_type": "code", "client_id": client.client_id, "code_challenge": challenge,
                                      "code_challenge_method": "S256"}, ORIGIN)
    assert not isinstance(exc.value, RedirectError)


def test_racing_refreshes_of_one_token_count_as_reuse(server, client):
    """Two refreshes of one token, racing: one rotates, the other is a reuse and revokes the grant."""
    code, verifier = authorize(server, client)
    refresh = exchange(server, client, code, verifier).body()["refresh_token"]
    form = {"grant_type": "refresh_token", "client_id": client.client_id, "refresh_token": refresh}
    assert _winners(4, lambda: server.token(form, ORIGIN)) == 1
    [grant] = server.grants.list("alice")
    assert grant.revoked_reason == "refresh token reused"
