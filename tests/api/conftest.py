"""The real app under uvicorn on 127.0.0.1 (auth required, loopback Host allow-list), driven with httpx."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from membucket import ops
from membucket.auth import TokenStore
from membucket.caller import ServerState
from membucket.http.app import LOOPBACK_HOSTS, create_app

from tests.support.factories import make_mb
from tests.support.live import live_server


@dataclass
class Api:
    """A running server and helpers to call it as someone."""

    url: str
    state: ServerState
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def mb(self):
        return self.state.mb

    def token(self, user: str = "alice", app: str | None = None, scopes: tuple[str, ...] = ("admin",)) -> str:
        plain, _ = self.state.tokens.create(user, app, list(scopes))
        return plain

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        c = httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)
        self._clients.append(c)
        return c

    def as_(self, user: str = "alice", app: str | None = None, scopes: tuple[str, ...] = ("admin",)) -> httpx.Client:
        """A client holding a fresh token for (user, app, scopes)."""
        return self.client(self.token(user, app, scopes))

    def owner_ctx(self, user: str = "alice"):
        return self.mb.context(user)

    def close(self) -> None:
        for c in self._clients:
            c.close()


@contextlib.contextmanager
def running_api(tmp_path, **state_kwargs) -> Iterator[Api]:
    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "cache")
    state = ServerState(
        mb=mb, tokens=TokenStore(mb.store, cache_seconds=10.0), auth_required=True,
        allowed_hosts=list(LOOPBACK_HOSTS), **state_kwargs,
    )
    with live_server(create_app(state)) as url:
        api = Api(url, state)
        try:
            yield api
        finally:
            api.close()


@pytest.fixture
def api(tmp_path) -> Iterator[Api]:
    with running_api(tmp_path) as a:
        yield a


@pytest.fixture
def owner(api):
    """Alice's owner client (admin token, no app)."""
    return api.as_("alice")


@pytest.fixture
def seeded(api, owner):
    """Alice's memory: three memories with categories, created by the owner; returns their ids."""
    ctx = api.owner_ctx("alice")
    ids = {
        "health": ops.add(ctx, "Alice takes insulin every morning", categories=["health"]).events[0].id,
        "work": ops.add(ctx, "Alice leads the payments team at work", categories=["work"]).events[0].id,
        "bike": ops.add(ctx, "Alice bought a red bicycle last spring", categories=["hobby"]).events[0].id,
    }
    return ids


def error_code(resp: httpx.Response) -> str:
    body = resp.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]["code"]
