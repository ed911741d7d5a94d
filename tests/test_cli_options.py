"""Root options work after any subcommand; unknown apps and an unconfigured embedder are named."""

from __future__ import annotations

import json
import time

from membucket import ops
from membucket.client import load_embedder as real_load_embedder


def test_root_options_work_after_any_subcommand(cli_env):
    cli_env("add", "Bob likes tea", "--user", "bob", "--app", "cursor")
    [memory] = ops.list_memories(cli_env.lib("bob")).items
    assert memory.app == "cursor" and ops.list_memories(cli_env.lib()).total == 0
    assert json.loads(cli_env("list", "--user", "bob").stdout)["total"] == 1
    assert len(json.loads(cli_env("search", "tea", "--user", "bob").stdout)) == 1
    assert "cursor" in {a["name"] for a in json.loads(cli_env("apps", "list", "--user", "bob").stdout)}
    r = cli_env("get", "not-an-id", "--json", code=None)
    assert json.loads(r.stderr)["error"]["code"] == "invalid_id"
    # a command's own option of the same name keeps its meaning: list --app filters
    assert json.loads(cli_env("--user", "bob", "list", "--app", "claude").stdout)["total"] == 0


def test_apps_pause_of_an_unknown_app_is_not_found(cli_env):
    cli_env("add", "a memory")
    for args in (["apps", "pause", "nosuchapp"], ["apps", "resume", "nosuchapp"]):
        r = cli_env(*args, code=None)
        assert r.exit_code == 1 and r.stderr.startswith("error: not_found: app 'nosuchapp'")
    assert [a["name"] for a in json.loads(cli_env("apps", "list").stdout)] == ["cli"]
    assert json.loads(cli_env("apps", "pause", "nosuchapp", "--create").stdout)["paused"] is True
    assert json.loads(cli_env("apps", "pause", "cli").stdout)["paused"] is True


def test_reindex_to_an_unconfigured_openai_names_the_setting_at_once(cli_env, monkeypatch):
    cli_env("add", "a memory")
    monkeypatch.setattr("membucket.client.load_embedder", real_load_embedder)
    started = time.monotonic()
    r = cli_env("reindex", "--embedder", "openai", code=None)
    assert time.monotonic() - started < 2
    assert r.exit_code == 1 and "MEMBUCKET_OPENAI_BASE_URL" in r.stderr and "MEMBUCKET_OPENAI_API_KEY" in r.stderr

