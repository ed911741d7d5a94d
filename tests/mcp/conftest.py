import pytest
from membucket.http.app import create_app
from membucket.http.serve import build_state

from tests.support.factories import make_mb
from tests.support.live import live_server


@pytest.fixture
def mb(tmp_path):
    return make_mb(str(tmp_path / "bucket"), tmp_path / "cache")


@pytest.fixture
def open_server(mb):
    """Loopback server with auth off (OpenMemory-style URLs)."""
    state = build_state(mb, "127.0.0.1", auth=False)
    with live_server(create_app(state)) as url:
        yield url, state


@pytest.fixture
def auth_server(mb):
    """Loopback server with bearer tokens required."""
    state = build_state(mb, "127.0.0.1", auth=True)
    with live_server(create_app(state)) as url:
        yield url, state
