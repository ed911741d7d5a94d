"""A real server (auth on, HashEmbedder) and Debian's chromium driven by Playwright.

No browser download ever happens: chromium comes from apt (``make chromium``), and the tests
skip, saying why, when it or Playwright is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from membucket.http.app import create_app
from membucket.http.serve import build_state

from tests.support.factories import make_mb
from tests.support.live import live_server

CHROMIUM = os.environ.get("MEMBUCKET_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]


@dataclass
class Server:
    url: str
    state: object

    @property
    def mb(self):
        return self.state.mb

    def token(self, user: str, app: str | None = None, scopes: tuple[str, ...] = ("admin",)) -> str:
        return self.state.tokens.create(user, app, list(scopes))[0]

    def rest(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _unavailable(reason: str) -> None:
    """Skip, saying why; in CI (REQUIRE_BROWSER_TESTS=1, set by .ci/run) a missing browser is a failure."""
    if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
        pytest.fail(reason + " (REQUIRE_BROWSER_TESTS=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium, as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[test]'")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ui")
    mb = make_mb(str(tmp / "bucket"), tmp / "cache")
    state = build_state(mb, "127.0.0.1", auth=True)
    with live_server(create_app(state)) as url:
        yield Server(url, state)


@pytest.fixture
def page(browser):
    """A fresh browser context (its own sessionStorage) that fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    yield pg
    context.close()
    assert not errors, errors


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, server: Server, token: str) -> None:
    page.goto(server.url + "/")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#nav").wait_for(state="visible")
    page.locator("main[data-page]").wait_for()


def go(page, route: str) -> None:
    """Navigate by hash and wait until the page has rendered."""
    page.evaluate("document.getElementById('main').removeAttribute('data-page')")
    page.evaluate("r => { location.hash = r }", route)
    page.locator("main[data-page]").wait_for()
