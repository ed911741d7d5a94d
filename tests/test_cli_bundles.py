"""``membucket export`` / ``membucket import`` through CliRunner, checked through the library."""

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
    store = str(tmp_path / "bucket")
    monkeypatch.setenv("MEMBUCKET_STORE", store)
    monkeypatch.setattr("membucket.client.load_embedder", lambda name, settings=None: HashEmbedder())
    REGISTRY.clear()
    runner = CliRunner()

    def run(*args, ok=True, input=None):
        result = runner.invoke(cli_module.cli, list(args), catch_exceptions=False, input=input)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    run.store, run.tmp = store, tmp_path
    return run


def lib(env, user="default"):
    return make_mb(env.store, env.tmp / "check-cache").context(user)


def test_export_import_with_the_passphrase_from_the_environment(env, monkeypatch):
    ctx = lib(env, "alice")
    a = ops.add(ctx, "Alice is allergic to peanuts", categories=["health"]).events[0].id
    b = ops.add(ctx, "Alice lives in Lisbon").events[0].id
    ops.change_state(ctx, [b], "archived")
    monkeypatch.setenv("MEMBUCKET_PASSPHRASE", "from the environment")
    out = env.tmp / "alice.mbx"
    res = json.loads(env("--user", "alice", "export", "--out", str(out), "--encrypt", "--no-progress").stdout)
    assert res["encrypted"] and res["manifest"]["counts"]["memories"] == 2
    assert out.read_bytes()[:4] == b"MBX1" and not (env.tmp / "alice.mbx.part").exists()
    res = json.loads(env("import", str(out), "--user", "bob", "--no-progress").stdout)
    assert (res["added"], res["format"]) == (2, "membucket")
    bob = lib(env, "bob")
    assert ops.get(bob, a).categories == ["health"] and ops.get(bob, b).state == "archived"
    # a second import commits nothing
    assert json.loads(env("import", str(out), "--user", "bob", "--no-progress").stdout)["added"] == 0


def test_passphrase_is_prompted_never_an_argument(env, monkeypatch):
    ops.add(lib(env), "a memory")
    out = env.tmp / "x.mbx"
    env("export", "--out", str(out), "--encrypt", "--no-progress", input="pw\npw\n")
    bad = env("import", str(out), "--user", "bob", "--no-progress", input="wrong\n", ok=False)
    assert bad.exit_code == 1 and "bad_passphrase" in bad.stderr
    assert json.loads(env("import", str(out), "--user", "bob", "--no-progress", input="pw\n").stdout)["added"] == 1
    assert env("export", "--out", str(out), "--passphrase", "pw", ok=False).exit_code == 2  # no such option


def test_filters_progress_and_errors(env):
    ctx = lib(env)
    ops.add(ctx, "one memory about tea")
    ops.add(make_mb(env.store, env.tmp / "c2").context("default", app="cursor"), "another about coffee")
    out = env.tmp / "cursor.zip"
    res = env("export", "--out", str(out), "--app", "cursor")
    assert json.loads(res.stdout)["manifest"]["counts"]["memories"] == 1
    assert "memories" in res.stderr  # the progress bar
    bad = env("import", str(env.tmp / "cursor.zip"), "--mode", "replace", "--user", "x/../y", ok=False)
    assert bad.exit_code == 1
    junk = env.tmp / "junk.zip"
    junk.write_bytes(b"not a zip")
    res = env("--json", "import", str(junk), ok=False)
    assert json.loads(res.stderr)["error"]["code"] == "bundle_invalid"


def test_import_from_an_openmemory_database(env):
    from tests.ops.test_openmemory_db import build_db

    db = env.tmp / "openmemory.db"
    ids = build_db(db)
    args = ("import", "--from-openmemory-db", str(db), "--openmemory-user", "alice", "--user", "alice", "--no-progress")
    res = json.loads(env(*args).stdout)
    assert (res["added"], res["format"]) == (4, "openmemory")
    assert ops.get(lib(env, "alice"), ids["archived"]).state == "archived"
    assert json.loads(env(*args).stdout)["added"] == 0  # a second import commits nothing
    both = env("--json", "import", str(db), "--from-openmemory-db", str(db), ok=False)
    assert json.loads(both.stderr)["error"]["code"] == "invalid_input"
    several = env("--json", "import", "--from-openmemory-db", str(db), ok=False)
    assert "alice, bob" in json.loads(several.stderr)["error"]["message"]
