"""The CLI contract, run through CliRunner and checked through the library."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from membucket import cli as cli_module
from membucket import ops
from membucket.engine.namespace import REGISTRY

from tests.support.embedders import HashEmbedder
from tests.support.factories import make_mb


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A CLI whose Membucket uses the small test embedder (the real one is tested in tests/embed)."""
    store = str(tmp_path / "bucket")
    monkeypatch.setenv("MEMBUCKET_STORE", store)
    monkeypatch.setattr("membucket.client.load_embedder", lambda name, settings=None: HashEmbedder())
    REGISTRY.clear()
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(cli_module.cli, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    run.store = store
    run.tmp = tmp_path
    return run


def lib(env, user="default"):
    return make_mb(env.store, env.tmp / "check-cache").context(user)


def test_add_search_list_get(env):
    out = json.loads(env("add", "Alice is allergic to peanuts", "--category", "health", "--metadata", '{"src": "test"}').stdout)
    (event,) = out["results"]
    assert event["event"] == "ADD"
    mem = ops.get(lib(env), event["id"])
    assert mem.categories == ["health"] and mem.metadata == {"src": "test"} and mem.app == "cli"
    again = json.loads(env("add", "alice is allergic to peanuts").stdout)["results"][0]
    assert again == {"id": event["id"], "event": "NOOP", "text": "Alice is allergic to peanuts"}
    hits = json.loads(env("search", "allergic to peanuts", "--limit", "3").stdout)
    assert hits[0]["id"] == event["id"] and set(hits[0]) == {"id", "text", "score", "categories", "created_at"}
    assert json.loads(env("search", "peanuts", "--category", "work").stdout) == []
    for mode in ("dense", "lexical", "hybrid"):
        assert json.loads(env("search", "peanuts", "--mode", mode).stdout)[0]["id"] == event["id"]
    assert env("search", "peanuts", "--mode", "sparse", ok=False).exit_code == 2
    page = json.loads(env("list", "--size", "10").stdout)
    assert page["total"] == 1 and page["items"][0]["id"] == event["id"]
    assert json.loads(env("get", event["id"]).stdout)["text"] == "Alice is allergic to peanuts"


def test_state_delete_and_history(env):
    mid = json.loads(env("add", "a memory to pause").stdout)["results"][0]["id"]
    other = json.loads(env("add", "another unrelated thing").stdout)["results"][0]["id"]
    env("state", mid, other, "--to", "paused")
    assert {ops.get(lib(env), i).state for i in (mid, other)} == {"paused"}
    assert json.loads(env("list", "--state", "paused").stdout)["total"] == 2
    env("delete", mid)
    assert ops.get(lib(env), mid).state == "deleted"
    hist = json.loads(env("history", mid).stdout)
    assert [h["new_state"] for h in hist] == ["active", "paused", "deleted"]
    env("delete-all", "--yes")
    assert ops.list_memories(lib(env)).total == 0


def test_user_and_app_options(env):
    env("--user", "bob", "--app", "cursor", "add", "Bob's memory")
    assert ops.list_memories(lib(env, "bob")).items[0].app == "cursor"
    assert ops.list_memories(lib(env)).total == 0


def test_apps_and_rules(env):
    env("--app", "cursor", "add", "visible to cursor")
    env("apps", "pause", "cursor")
    r = env("--app", "cursor", "search", "visible", ok=False)
    assert r.exit_code == 1 and r.stderr.startswith("error: app_paused:")
    env("apps", "resume", "cursor")
    rule = json.loads(env("rules", "add", "cursor", "deny").stdout)
    assert json.loads(env("--app", "cursor", "search", "visible").stdout) == []
    env("rules", "delete", rule["id"])
    assert len(json.loads(env("--app", "cursor", "search", "visible").stdout)) == 1


@pytest.mark.parametrize(
    "args, code",
    [
        (["add", ""], "empty_text"),
        (["add", "x" * 20000], "too_large"),
        (["get", "not-an-id"], "invalid_id"),
        (["state", "6f1c7d36-0f5b-4c4b-9c8e-6b7e3f0b9a11", "--to", "paused"], "not_found"),
        (["--user", "../etc", "add", "x"], "invalid_user_id"),
        (["add", "x", "--metadata", "{bad"], "invalid_metadata"),
    ],
)
def test_errors_are_one_line_with_a_code(env, args, code):
    r = env(*args, ok=False)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith(f"error: {code}:")
    j = env("--json", *args, ok=False)
    assert json.loads(j.stderr)["error"]["code"] == code
    assert not (env.tmp / "bucket" / "ns" / "..").exists()


def test_illegal_transition_exit_code(env):
    mid = json.loads(env("add", "to delete").stdout)["results"][0]["id"]
    env("delete", mid)
    r = env("state", mid, "--to", "active", ok=False)
    assert r.exit_code == 1 and "illegal_transition" in r.stderr


def test_compact_and_stats(env):
    for i in range(3):
        env("add", f"memory {i} for compaction {i * 11}")
    out = json.loads(env("compact").stdout)
    assert out["checkpoint_written"] and out["seq"] >= 3
    stats = json.loads(env("stats").stdout)
    assert stats["memories"]["total"] == 3 and stats["log"]["checkpoint_seq"] == out["seq"]


def test_doctor_checks_the_store(env):
    report = json.loads(env("doctor").stdout)
    assert report["ok"] and {c["check"] for c in report["checks"]} == {"store read/write", "store filesystem", "conditional writes", "embedder"}
    assert report["config"]["store"] == env.store


def test_every_command_has_help_with_an_example():
    def walk(group, prefix=""):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from walk(cmd, prefix + name + " ")
            else:
                yield prefix + name, cmd

    for name, cmd in walk(cli_module.cli):
        assert cmd.help and "Example: membucket" in cmd.help, name


def test_bench_commands_come_from_the_dev_install_plugin(env):
    out = env("bench", "--help").stdout
    assert all(name in out for name in ("engine", "http", "export", "locomo", "categories", "backup"))
    assert "bench" in env("--help").stdout


def test_an_unexpected_error_is_a_bug_not_invalid_input(env, monkeypatch):
    def broken(ctx):
        raise ValueError("a bug")

    monkeypatch.setattr("membucket.ops.stats", broken)
    result = CliRunner().invoke(cli_module.cli, ["stats"])
    assert isinstance(result.exception, ValueError) and "invalid_input" not in result.stderr


def test_cli_against_an_s3_endpoint(env, s3_http_bucket):
    endpoint, bucket = s3_http_bucket
    store = f"s3://{bucket}/team"
    out = json.loads(env("--store", store, "--endpoint-url", endpoint, "add", "Stored in a real S3 endpoint").stdout)
    mid = out["results"][0]["id"]
    hits = json.loads(env("--store", store, "--endpoint-url", endpoint, "search", "real S3 endpoint").stdout)
    assert hits[0]["id"] == mid
    report = json.loads(env("--store", store, "--endpoint-url", endpoint, "doctor").stdout)
    assert report["ok"] and report["config"]["endpoint_url"] == endpoint
    import boto3

    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys and all(k.startswith("team/") for k in keys)


def test_add_names_a_similar_memory(env, monkeypatch):
    monkeypatch.setenv("MEMBUCKET_NEAR_DUPLICATE_THRESHOLD", "0.3")
    first = json.loads(env("add", "My bank card PIN is 4921").stdout)["results"][0]
    second = json.loads(env("add", "My bank card PIN is 4922").stdout)["results"][0]
    assert second["event"] == "ADD" and second["similar"] == [first["id"]]
    assert {m.text for m in ops.list_memories(lib(env)).items} == {"My bank card PIN is 4921", "My bank card PIN is 4922"}
