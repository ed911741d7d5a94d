"""OAuth through the Lambda handlers with API Gateway v2 events: every step may land in another
container (or function), so all state the flow needs lives in the bucket."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

from tests.support.events import FakeContext, http_event, response_json
from tests.support.oauth import pkce_pair, query_of, sealed_field

HOST = "abc123.execute-api.us-east-1.amazonaws.com"
ORIGIN = f"https://{HOST}"
REDIRECT = "https://claude.ai/api/mcp/auth_callback"
PROTOCOL = {"mcp-protocol-version": "2025-06-18"}


def invoke(fn, method, path, body=None, headers=None, query=""):
    hdrs = {"x-forwarded-proto": "https", **(headers or {})}
    resp = fn.lambda_handler(http_event(method, path, body, hdrs, query=query, host=HOST), FakeContext())
    return resp


def text(resp) -> str:
    body = resp.get("body") or ""
    return base64.b64decode(body).decode() if resp.get("isBase64Encoded") else body


def form(fn, path, fields, headers=None):
    return invoke(fn, "POST", path, urlencode(fields), {"content-type": "application/x-www-form-urlencoded", **(headers or {})})


def nonce_cookie(resp) -> str:
    cookies = resp.get("cookies") or resp.get("multiValueHeaders", {}).get("set-cookie") or [resp["headers"].get("set-cookie")]
    [cookie] = [c for c in cookies if c and c.startswith("mb_oauth_nonce=")]
    return cookie.split(";")[0]


def mcp_call(fn, token, method, params=None):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    return invoke(fn, "POST", "/mcp", body, {**({"authorization": f"Bearer {token}"} if token else {}), **PROTOCOL})


def test_oauth_flow_across_containers(bucket, tokens, load):
    owner, _ = tokens.create("alice", None, ["admin"])
    api_a, api_b, mcp = load("api", "a"), load("api", "b"), load("mcp", "c")

    # discovery: the MCP function's 401 names the metadata, the $default route serves it
    unauth = mcp_call(mcp, None, "tools/list")
    assert unauth["statusCode"] == 401
    assert unauth["headers"]["www-authenticate"] == f'Bearer resource_metadata="{ORIGIN}/.well-known/oauth-protected-resource/mcp"'
    prm = response_json(invoke(api_a, "GET", "/.well-known/oauth-protected-resource/mcp"))
    assert prm["resource"] == ORIGIN + "/mcp" and prm["authorization_servers"] == [ORIGIN]
    asm = response_json(invoke(api_b, "GET", "/.well-known/oauth-authorization-server"))
    assert asm["issuer"] == ORIGIN and asm["registration_endpoint"] == ORIGIN + "/register"

    registered = invoke(api_a, "POST", "/register", {"client_name": "Claude", "redirect_uris": [REDIRECT]})
    assert registered["statusCode"] == 201, registered
    client_id = response_json(registered)["client_id"]

    verifier, challenge = pkce_pair()
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "st",
                       "code_challenge": challenge, "code_challenge_method": "S256", "resource": ORIGIN + "/mcp"})
    page = invoke(api_b, "GET", "/authorize", query=query)
    assert page["statusCode"] == 200 and "frame-ancestors 'none'" in page["headers"]["content-security-policy"]
    cookie = nonce_cookie(page)
    browser = {"cookie": cookie, "origin": ORIGIN}
    signed_in = form(api_a, "/authorize", {"request": sealed_field(text(page)), "action": "signin", "credential": owner}, browser)
    assert signed_in["statusCode"] == 200, text(signed_in)
    approved = form(api_b, "/authorize", {"request": sealed_field(text(signed_in)), "action": "approve", "scope": "write"}, browser)
    assert approved["statusCode"] == 303
    location = approved["headers"]["location"]
    assert location.startswith(REDIRECT + "?") and query_of(location)["state"] == "st"

    exchange = {"grant_type": "authorization_code", "code": query_of(location)["code"], "redirect_uri": REDIRECT,
                "client_id": client_id, "code_verifier": verifier, "resource": ORIGIN + "/mcp"}
    issued = form(api_a, "/token", exchange)
    assert issued["statusCode"] == 200, text(issued)
    body = response_json(issued)

    listed = mcp_call(mcp, body["access_token"], "tools/list")
    assert listed["statusCode"] == 200 and response_json(listed)["result"]["tools"]
    added = mcp_call(mcp, body["access_token"], "tools/call", {"name": "add_memories", "arguments": {"text": "Alice connected from Lambda"}})
    assert response_json(added)["result"]["structuredContent"]["results"][0]["event"] == "ADD"
    assert form(api_b, "/token", exchange)["statusCode"] == 400  # the code, again, in another container
    # the reused code revoked the grant it produced: the token stops working (after the cache)
    for fn in (api_a, api_b, mcp):
        fn.APP.app.state.membucket.oauth.grants._grant_cache.clear()
    assert mcp_call(mcp, body["access_token"], "tools/list")["statusCode"] == 401


def test_refresh_rotation_and_reuse_across_containers(bucket, tokens, load):
    owner, _ = tokens.create("alice", None, ["admin"])
    api_a, api_b, mcp = load("api", "a"), load("api", "b"), load("mcp", "c")
    client_id = response_json(invoke(api_a, "POST", "/register", {"client_name": "ChatGPT", "redirect_uris": [REDIRECT]}))["client_id"]
    state = api_a.APP.app.state.membucket
    verifier, challenge = pkce_pair()
    request = state.oauth.authorization_request({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
                                                 "code_challenge": challenge, "code_challenge_method": "S256"}, ORIGIN)
    code = query_of(state.oauth.approve(request, state.oauth.sign_in(owner, ""), ["read"]))["code"]
    first = response_json(form(api_b, "/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                                 "client_id": client_id, "code_verifier": verifier}))
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": client_id}
    second = form(api_a, "/token", refresh)
    assert second["statusCode"] == 200
    new_access = response_json(second)["access_token"]
    assert mcp_call(mcp, new_access, "tools/list")["statusCode"] == 200
    reused = form(api_b, "/token", refresh)
    assert reused["statusCode"] == 400 and response_json(reused)["error"] == "invalid_grant"
    mcp.APP.app.state.membucket.oauth.grants._grant_cache.clear()
    assert mcp_call(mcp, new_access, "tools/list")["statusCode"] == 401


def test_jwt_mode_names_the_operators_issuer(bucket, load):
    issuer = "https://idp.example.com/realms/membucket"
    api = load("api", "j", MEMBUCKET_LAMBDA_AUTH="jwt", MEMBUCKET_JWT_ISSUER=issuer)
    prm = response_json(invoke(api, "GET", "/.well-known/oauth-protected-resource/mcp"))
    assert prm == {**prm, "resource": ORIGIN + "/mcp", "authorization_servers": [issuer]}
    # membucket is not the authorization server here: the identity provider is
    assert invoke(api, "GET", "/.well-known/oauth-authorization-server")["statusCode"] == 404
    assert invoke(api, "POST", "/register", {"redirect_uris": [REDIRECT]})["statusCode"] in (404, 405)
    mcp = load("mcp", "k", MEMBUCKET_LAMBDA_AUTH="jwt", MEMBUCKET_JWT_ISSUER=issuer)
    unauth = mcp_call(mcp, None, "tools/list")
    assert unauth["statusCode"] == 401 and "oauth-protected-resource/mcp" in unauth["headers"]["www-authenticate"]
