"""The Connect page: the URL for clients that sign in, and their grants with revoke."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.support.oauth import consent_over_http, pkce_pair, query_of

from .conftest import go, shot, sign_in

REDIRECT = "http://127.0.0.1:9/cb"


def test_connect_page_lists_and_revokes_oauth_clients(page, server):
    owner = server.token("carol")
    oauth = server.state.oauth
    client = oauth.register({"client_name": "ChatGPT", "redirect_uris": [REDIRECT]})
    verifier, challenge = pkce_pair()
    url = server.url + "/authorize?" + urlencode({"response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT,
                                                  "code_challenge": challenge, "code_challenge_method": "S256", "state": "s"})
    code = query_of(consent_over_http(url, owner, scope="read"))["code"]
    oauth.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client.client_id,
                 "code_verifier": verifier}, server.url)
    sign_in(page, server, owner)
    go(page, "#/connect")
    assert page.locator("#oauth-url code").inner_text() == server.url + "/mcp"
    row = page.locator("#grants tr[data-grant]")
    row.wait_for()
    assert "ChatGPT" in row.inner_text() and "read" in row.inner_text()
    shot(page, "connect-oauth")
    page.get_by_role("button", name="Revoke ChatGPT").click()
    page.locator("#confirm-ok").click()
    page.get_by_text("No client has signed in yet.").wait_for()
    [grant] = oauth.grants.list("carol")
    assert grant.revoked_at
