"""The CLI contract, run through CliRunner and checked through the library."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from membucket import cli as cli_module
from membucket import ops


def test_add_search_list_get(cli_env):
    out = json.loads(cli_env("add", "Alice is allergic to peanuts", "--category", "health", "--metadata", '{"src": "test"}').stdout)
    (event,) = out["results"]
    assert event["event"] == "ADD"
    mem = ops.get(cli_env.lib(), event["id"])
    assert mem.categories == ["health"] and mem.metadata == {"src": "test"} and mem.app == "cli"
    again = json.loads(cli_env("add", "alice is allergic to peanuts").stdout)["results"][0]
    assert again == {"id": event["id"], "event": "NOOP", "text": "Alice is allergic to peanuts"}
    hits = json.loads(cli_env("search", "allergic to peanuts", "--limit", "3").stdout)
    assert hits[0]["id"] == event["id"] and set(hits[0]) == {"id", "text", "score", "categories", "created_at"}
    assert json.loads(cli_env("search", "peanuts", "--category", "work").stdout) == []
    for mode in ("dense", "lexical", "hybrid"):
        assert json.loads(cli_env("search", "peanuts", "--mode", mode).stdout)[0]["id"] == event["id"]
    assert cli_env("search", "peanuts", "--mode", "sparse", code=None).exit_code == 2
    page = json.loads(cli_env("list", "--size", "10").stdout)
    assert page["total"] == 1 and page["items"][0]["id"] == event["id"]
    assert json.loads(cli_env("get", event["id"]).stdout)["text"] == "Alice is allergic to peanuts"


def test_state_delete_and_history(cli_env):
    mid = json.loads(cli_env("add", "a memory to pause").stdout)["results"][0]["id"]
    other = json.loads(cli_env("add", "another unrelated thing").stdout)["results"][0]["id"]
    cli_env("state", mid, other, "--to", "paused")
    assert {ops.get(cli_env.lib(), i).state for i in (mid, other)} == {"paused"}
    assert json.loads(cli_env("list", "--state", "paused").stdout)["total"] == 2
    cli_env("delete", mid)
    assert ops.get(cli_env.lib(), mid).state == "deleted"
    hist = json.loads(cli_env("history", mid).stdout)
    assert [h["new_state"] for h in hist] == ["active", "paused", "deleted"]
    cli_env("delete-all", "--yes")
    assert ops.list_memories(cli_env.lib()).total == 0


def test_user_and_app_options(cli_env):
    cli_env("--user", "bob", "--app", "cursor", "add", "Bob's memory")
    assert ops.list_memories(cli_env.lib("bob")).items[0].app == "cursor"
    assert ops.list_memories(cli_env.lib()).total == 0


def test_apps_and_rules(cli_env):
    cli_env("--app", "cursor", "add", "visible to cursor")
    cli_env("apps", "pause", "cursor")
    r = cli_env("--app", "cursor", "search", "visible", code=None)
    assert r.exit_code == 1 and r.stderr.startswith("error: app_paused:")
    cli_env("apps", "resume", "cursor")
    rule = json.loads(cli_env("rules", "add", "cursor", "deny").stdout)
    assert json.loads(cli_env("--app", "cursor", "search", "visible").stdout) == []
    cli_env("rules", "delete", rule["id"])
    assert len(json.loads(cli_env("--app", "cursor", "search", "visible").stdout)) == 1


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
def test_errors_are_one_line_with_a_code(cli_env, args, code):
    r = cli_env(*args, code=None)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith(f"error: {code}:")
    j = cli_env("--json", *args, code=None)
    assert json.loads(j.stderr)["error"]["code"] == code
    assert not (cli_env.tmp / "bucket" / "ns" / "..").exists()


def test_illegal_transition_exit_code(cli_env):
    mid = json.loads(cli_env("add", "to delete").stdout)["results"][0]["id"]
    cli_env("delete", mid)
    r = cli_env("state", mid, "--to", "active", code=None)
    assert r.exit_code == 1 and "illegal_transition" in r.stderr


def test_compact_and_stats(cli_env):
    for i in range(3):
        cli_env("add", f"memory {i} for compaction {i * 11}")
    out = json.loads(cli_env("compact").stdout)
    assert out["checkpoint_written"] and out["seq"] >= 3
    stats = json.loads(cli_env("stats").stdout)
    assert stats["memories"]["total"] == 3 and stats["log"]["checkpoint_seq"] == out["seq"]


def test_doctor_checks_the_store(cli_env):
    report = json.loads(cli_env("doctor").stdout)
    assert report["ok"] and {c["check"] for c in report["checks"]} == {"store read/write", "store filesystem", "conditional writes", "embedder"}
    assert report["config"]["store"] == cli_env.store


def test_every_command_has_help_with_an_example():
    def walk(group, prefix=""):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from walk(cmd, prefix + name + " ")
            else:
                yield prefix + name, cmd

    for name, cmd in walk(cli_module.cli):
        assert cmd.help and "Example: membucket" in cmd.help, name


def test_bench_commands_come_from_the_dev_install_plugin(cli_env):
    out = cli_env("bench", "--help").stdout
    assert all(name in out for name in ("engine", "http", "export", "locomo", "categories", "backup"))
    assert "bench" in cli_env("--help").stdout


def test_an_unexpected_error_is_a_bug_not_invalid_input(cli_env, monkeypatch):
    def broken(ctx):
        raise ValueError("a bug")

    monkeypatch.setattr("membucket.ops.stats", broken)
    result = CliRunner().invoke(cli_module.cli, ["stats"])
    assert isinstance(result.exception, ValueError) and "invalid_input" not in result.stderr


def test_cli_against_an_s3_endpoint(cli_env, s3_http_bucket):
    endpoint, bucket = s3_http_bucket
    store = f"s3://{bucket}/team"
    out = json.loads(cli_env("--store", store, "--endpoint-url", endpoint, "add", "Stored in a real S3 endpoint").stdout)
    mid = out["results"][0]["id"]
    hits = json.loads(cli_env("--store", store, "--endpoint-url", endpoint, "search", "real S3 endpoint").stdout)
    assert hits[0]["id"] == mid
    report = json.loads(cli_env("--store", store, "--endpoint-url", endpoint, "doctor").stdout)
    assert report["ok"] and report["config"]["endpoint_url"] == endpoint
    import boto3

    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys and all(k.startswith("team/") for k in keys)


def test_add_names_a_similar_memory(cli_env, monkeypatch):
    monkeypatch.setenv("MEMBUCKET_NEAR_DUPLICATE_THRESHOLD", "0.3")
    first = json.loads(cli_env("add", "My bank card PIN is 4921").stdout)["results"][0]
    second = json.loads(cli_env("add", "My bank card PIN is 4922").stdout)["results"][0]
    assert second["event"] == "ADD" and second["similar"] == [first["id"]]
    assert {m.text for m in ops.list_memories(cli_env.lib()).items} == {"My bank card PIN is 4921", "My bank card PIN is 4922"}
