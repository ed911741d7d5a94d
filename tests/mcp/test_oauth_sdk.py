"""The whole OAuth flow with the mcp SDK's own client provider against a real server.

Register, authorize (headless Chromium signs in on the consent page and approves; without
Chromium the same form is driven over plain HTTP), code exchanged, tools listed, add and search,
refresh, revoke, then 401.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest
from membucket import ops
from membucket.http.app import create_app
from membucket.http.serve import build_state

from tests.support.factories import make_mb
from tests.support.live import live_server
from tests.support.oauth import consent_over_http, query_of

CHROMIUM = os.environ.get("MEMBUCKET_CHROMIUM", "/usr/bin/chromium")
REDIRECT = "http://127.0.0.1:9/oauth/callback"
PASSPHRASE = "correct horse battery staple"


def _have_browser() -> bool:
    if not Path(CHROMIUM).exists():
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def consent_in_chromium(authorization_url: str, credential: str) -> str:
    """A real browser: sign in, approve; the redirect to the client is caught, not followed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from tests.ui.conftest import ARTIFACTS, LAUNCH_ARGS

    caught: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            def capture(route):
                caught.append(route.request.url)
                route.fulfill(status=200, body="signed in; you may close this window", content_type="text/plain")

            page.route("http://127.0.0.1:9/**", capture)
            page.goto(authorization_url)
            page.get_by_label("Owner admin token").fill(credential)
            page.get_by_role("button", name="Sign in").click()
            try:
                page.get_by_role("heading", name="Allow membucket test?").wait_for()
            except PlaywrightTimeout:
                raise AssertionError(page.content()) from None
            assert page.locator("#consent-user").inner_text() == "alice"
            page.get_by_label("Read and write").check()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "oauth-consent.png"), full_page=True)
            page.get_by_role("button", name="Approve").click()
            page.wait_for_url("http://127.0.0.1:9/**")
            assert not errors, errors  # no CSP violation on the way (form-action covers the redirect)
        finally:
            browser.close()
    assert caught
    return caught[0]


class MemoryStorage:
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


@pytest.fixture
def server(tmp_path):
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "cache", oauth_owner_passphrase=PASSPHRASE)
    state = build_state(mb, "127.0.0.1", auth=True)
    with live_server(create_app(state)) as url:
        yield url, state


@pytest.mark.parametrize("via", ["chromium", "http"])
def test_sdk_oauth_flow(server, via):
    if via == "chromium" and not _have_browser():
        pytest.skip(f"{CHROMIUM} or playwright missing: run `make chromium`")
    from mcp import Client
    from mcp.client.auth import OAuthClientProvider
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

    url, state = server
    owner = state.tokens.create("alice", None, ["admin"])[0]
    storage = MemoryStorage()
    redirects: list[str] = []

    async def redirect_handler(authorization_url: str) -> None:
        drive = consent_in_chromium if via == "chromium" else consent_over_http
        redirects.append(await asyncio.to_thread(drive, authorization_url, owner))

    async def callback_handler() -> AuthorizationCodeResult:
        q = query_of(redirects[-1])
        return AuthorizationCodeResult(code=q["code"], state=q.get("state"))

    provider = OAuthClientProvider(
        server_url=url + "/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="membucket test", redirect_uris=[REDIRECT], grant_types=["authorization_code", "refresh_token"],
            response_types=["code"], token_endpoint_auth_method="none",
        ),
        storage=storage, redirect_handler=redirect_handler, callback_handler=callback_handler,
    )

    async def scenario():
        import httpx2

        async with httpx2.AsyncClient(auth=provider, timeout=30) as http, Client(streamable_http_client(url + "/mcp", http_client=http)) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert {"add_memories", "search_memory"} <= names
            added = await c.call_tool("add_memories", {"text": "Alice connected by OAuth and likes green tea"})
            assert not added.is_error, added
            found = await c.call_tool("search_memory", {"query": "green tea"})
            assert found.structured_content["results"][0]["text"].startswith("Alice connected")
            first = storage.tokens
            provider.context.token_expiry_time = time.time() - 1  # the hour is up: the SDK refreshes
            found = await c.call_tool("search_memory", {"query": "green tea"})
            assert not found.is_error
            assert storage.tokens.refresh_token != first.refresh_token
            assert storage.tokens.access_token != first.access_token

    asyncio.run(scenario())
    assert len(redirects) == 1  # one consent, then refresh without the owner
    assert query_of(redirects[0])["state"]

    # the client is an app: its memory is attributed to it, and it shows in the access log
    ctx = state.mb.context("alice")
    page = ops.list_memories(ctx)
    assert page.total == 1 and page.items[0].app == "membucket test"
    assert any(r.op == "search" for r in ops.access_log(ctx, app="membucket test"))
    [grant] = state.oauth.grants.list("alice")
    assert grant.app == "membucket test" and len(grant.used_refresh) == 1

    # revoke (RFC 7009 with the refresh token), then the access token hears 401
    tokens = storage.tokens
    with httpx.Client(base_url=url, timeout=30) as h:
        assert h.post("/revoke", data={"token": tokens.refresh_token, "client_id": storage.client_info.client_id}).status_code == 200
        r = h.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                   headers={"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json, text/event-stream"})
        assert r.status_code == 401 and 'resource_metadata="' in r.headers["www-authenticate"]


def test_paused_app_refuses_the_oauth_client(server):
    """An approved client is an app: pausing that app stops it, as it does for tokens."""
    url, state = server
    owner = state.tokens.create("alice", None, ["admin"])[0]
    oauth = state.oauth
    client = oauth.register({"client_name": "Cursor", "redirect_uris": [REDIRECT]})
    from tests.support.oauth import pkce_pair

    verifier, challenge = pkce_pair()
    auth = (f"{url}/authorize?response_type=code&client_id={client.client_id}&redirect_uri={REDIRECT}"
            f"&code_challenge={challenge}&code_challenge_method=S256&state=s")
    code = query_of(consent_over_http(auth, owner))["code"]
    with httpx.Client(base_url=url, timeout=30) as h:
        tokens = h.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                        "client_id": client.client_id, "code_verifier": verifier}).json()
        ops.set_app_paused(state.mb.context("alice"), "cursor", True)
        r = h.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                 "params": {"name": "search_memory", "arguments": {"query": "x"}}},
                   headers={"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json, text/event-stream"})
    assert "paused" in r.text
