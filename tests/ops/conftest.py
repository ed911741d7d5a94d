import pytest

from tests.support.factories import make_mb


@pytest.fixture
def mb(tmp_path):
    return make_mb(str(tmp_path / "bucket"), tmp_path / "cache")


@pytest.fixture
def owner(mb):
    return mb.context("alice")


@pytest.fixture
def cursor_app(mb):
    return mb.context("alice", app="cursor")


@pytest.fixture
def claude_app(mb):
    return mb.context("alice", app="claude")
