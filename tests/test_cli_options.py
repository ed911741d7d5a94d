"""Root options work after any subcommand; unknown apps and an unconfigured embedder are named."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from membucket import cli as cli_module
from membucket import ops
from membucket.client import load_embedder as real_load_embedder
from membucket.engine.namespace import REGISTRY

from tests.support.embedders import HashEmbedder
from tests.support.factories import make_mb


@pytest.fixture
def env(tmp_path, monkeypatch):
    store = str(tmp_path / "bucket")
    monkeypatch.setenv("MEMBUCKET_STORE", store)
    for name in ("MEMBUCKET_USER", "MEMBUCKET_APP", "MEMBUCKET_OPENAI_BASE_URL", "MEMBUCKET_OPENAI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("membucket.client.load_embedder", lambda name, settings=None: HashEmbedder())
    REGISTRY.clear()
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(cli_module.cli, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    run.store, run.tmp = store, tmp_path
    return run


def lib(env, user="default"):
    return make_mb(env.store, env.tmp / "check-cache").context(user)


def test_root_options_work_after_any_subcommand(env):
    env("add", "Bob likes tea", "--user", "bob", "--app", "cursor")
    [memory] = ops.list_memories(lib(env, "bob")).items
    assert memory.app == "cursor" and ops.list_memories(lib(env)).total == 0
    assert json.loads(env("list", "--user", "bob").stdout)["total"] == 1
    assert len(json.loads(env("search", "tea", "--user", "bob").stdout)) == 1
    assert "cursor" in {a["name"] for a in json.loads(env("apps", "list", "--user", "bob").stdout)}
    r = env("get", "not-an-id", "--json", ok=False)
    assert json.loads(r.stderr)["error"]["code"] == "invalid_id"
    # a command's own option of the same name keeps its meaning: list --app filters
    assert json.loads(env("--user", "bob", "list", "--app", "claude").stdout)["total"] == 0


def test_apps_pause_of_an_unknown_app_is_not_found(env):
    env("add", "a memory")
    for args in (["apps", "pause", "nosuchapp"], ["apps", "resume", "nosuchapp"]):
        r = env(*args, ok=False)
        assert r.exit_code == 1 and r.stderr.startswith("error: not_found: app 'nosuchapp'")
    assert [a["name"] for a in json.loads(env("apps", "list").stdout)] == ["cli"]
    assert json.loads(env("apps", "pause", "nosuchapp", "--create").stdout)["paused"] is True
    assert json.loads(env("apps", "pause", "cli").stdout)["paused"] is True


def test_reindex_to_an_unconfigured_openai_names_the_setting_at_once(env, monkeypatch):
    env("add", "a memory")
    monkeypatch.setattr("membucket.client.load_embedder", real_load_embedder)
    started = time.monotonic()
    r = env("reindex", "--embedder", "openai", ok=False)
    assert time.monotonic() - started < 2
    assert r.exit_code == 1 and "MEMBUCKET_OPENAI_BASE_URL" in r.stderr and "MEMBUCKET_OPENAI_API_KEY" in r.stderr

