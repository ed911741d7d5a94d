"""Helpers for OAuth tests: PKCE pairs, and an owner driving the consent form over plain HTTP."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx

_REQUEST_FIELD = re.compile(r'name="request" value="([^"]+)"')


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def sealed_field(page: str) -> str:
    m = _REQUEST_FIELD.search(page)
    assert m, page
    return html.unescape(m.group(1))


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def consent_over_http(authorization_url: str, credential: str, user: str = "", scope: str = "write") -> str:
    """Open the consent page, sign in, approve; returns the redirect Location (with code and state)."""
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        page = browser.get(authorization_url)
        assert page.status_code == 200, page.text
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(authorization_url))
        headers = {"Origin": origin}
        signed_in = browser.post(origin + "/authorize", headers=headers, data={
            "request": sealed_field(page.text), "action": "signin", "credential": credential, "user": user})
        assert signed_in.status_code == 200, signed_in.text
        approved = browser.post(origin + "/authorize", headers=headers, data={
            "request": sealed_field(signed_in.text), "action": "approve", "scope": scope})
        assert approved.status_code == 303, approved.text
        return approved.headers["location"]
