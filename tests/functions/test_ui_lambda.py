"""The web UI is served by the ``api`` Lambda function (the HTTP API's $default route), not only by uvicorn."""

from __future__ import annotations

import base64

from tests.support.events import FakeContext, http_event

from .conftest import call


def body_text(resp: dict) -> str:
    raw = resp.get("body") or ""
    return base64.b64decode(raw).decode() if resp.get("isBase64Encoded") else raw


def test_api_function_serves_the_ui_and_its_routes(bucket, tokens, load):
    api = load("api", MEMBUCKET_AUTH="true")
    resp = api.lambda_handler(http_event("GET", "/", headers={"accept": "text/html"}), FakeContext())
    assert resp["statusCode"] == 200 and '<script type="module" src="/ui/app.js">' in body_text(resp)
    headers = {k.lower(): v for k, v in resp["headers"].items()}
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    js = api.lambda_handler(http_event("GET", "/ui/pages/memories.js"), FakeContext())
    assert js["statusCode"] == 200 and "export async function memoriesPage" in body_text(js)
    token, _ = tokens.create("alice", None, ["admin"])
    status, me = call(api, "GET", "/api/v1/me", None, token)
    assert status == 200 and me["user"] == "alice" and me["auth_required"] is True
    status, _ = call(api, "GET", "/api/v1/me")
    assert status == 401
