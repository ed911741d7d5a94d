"""An authorization server over an in-memory bucket with a clock the test moves."""

from __future__ import annotations

import base64
import hashlib
import secrets

import pytest
from membucket.auth import TokenStore
from membucket.auth.oauth import AuthorizationServer, OAuthConfig
from membucket.store import MemoryStore

ORIGIN = "https://memory.example.com"
REDIRECT = "https://client.example/callback"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store():
    return MemoryStore()


@pytest.fixture
def tokens(store):
    return TokenStore(store, cache_seconds=0)


@pytest.fixture
def server(store, tokens, clock):
    return AuthorizationServer(store, tokens, OAuthConfig(owner_passphrase="correct horse battery", cache_seconds=0), clock=clock)


@pytest.fixture
def client(server):
    return server.register({"client_name": "Claude", "redirect_uris": [REDIRECT]})


def authorize(server, client, user="alice", scopes=("write",), **extra):
    """Run an approval; returns (code, verifier)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT, "state": "st-1",
        "code_challenge": challenge, "code_challenge_method": "S256", **extra,
    }
    request = server.authorization_request(params, ORIGIN)
    location = server.approve(request, user, list(scopes))
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-1"]
    return query["code"][0], verifier


def exchange(server, client, code, verifier, **extra):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client.client_id,
            "code_verifier": verifier, **extra}
    return server.token(form, ORIGIN)
