"""``membucket export`` / ``membucket import`` through CliRunner, checked through the library."""

from __future__ import annotations

import json

from membucket import ops

from tests.support.factories import make_mb


def test_export_import_with_the_passphrase_from_the_environment(cli_env, monkeypatch):
    ctx = cli_env.lib("alice")
    a = ops.add(ctx, "Alice is allergic to peanuts", categories=["health"]).events[0].id
    b = ops.add(ctx, "Alice lives in Lisbon").events[0].id
    ops.change_state(ctx, [b], "archived")
    monkeypatch.setenv("MEMBUCKET_PASSPHRASE", "from the environment")
    out = cli_env.tmp / "alice.mbx"
    res = json.loads(cli_env("--user", "alice", "export", "--out", str(out), "--encrypt", "--no-progress").stdout)
    assert res["encrypted"] and res["manifest"]["counts"]["memories"] == 2
    assert out.read_bytes()[:4] == b"MBX1" and not (cli_env.tmp / "alice.mbx.part").exists()
    res = json.loads(cli_env("import", str(out), "--user", "bob", "--no-progress").stdout)
    assert (res["added"], res["format"]) == (2, "membucket")
    bob = cli_env.lib("bob")
    assert ops.get(bob, a).categories == ["health"] and ops.get(bob, b).state == "archived"
    # a second import commits nothing
    assert json.loads(cli_env("import", str(out), "--user", "bob", "--no-progress").stdout)["added"] == 0


def test_passphrase_is_prompted_never_an_argument(cli_env, monkeypatch):
    ops.add(cli_env.lib(), "a memory")
    out = cli_env.tmp / "x.mbx"
    cli_env("export", "--out", str(out), "--encrypt", "--no-progress", input="pw\npw\n")
    bad = cli_env("import", str(out), "--user", "bob", "--no-progress", input="wrong\n", code=None)
    assert bad.exit_code == 1 and "bad_passphrase" in bad.stderr
    assert json.loads(cli_env("import", str(out), "--user", "bob", "--no-progress", input="pw\n").stdout)["added"] == 1
    assert cli_env("export", "--out", str(out), "--passphrase", "pw", code=None).exit_code == 2  # no such option


def test_filters_progress_and_errors(cli_env):
    ctx = cli_env.lib()
    ops.add(ctx, "one memory about tea")
    ops.add(make_mb(cli_env.store, cli_env.tmp / "c2").context("default", app="cursor"), "another about coffee")
    out = cli_env.tmp / "cursor.zip"
    res = cli_env("export", "--out", str(out), "--app", "cursor")
    assert json.loads(res.stdout)["manifest"]["counts"]["memories"] == 1
    assert "memories" in res.stderr  # the progress bar
    bad = cli_env("import", str(cli_env.tmp / "cursor.zip"), "--mode", "replace", "--user", "x/../y", code=None)
    assert bad.exit_code == 1
    junk = cli_env.tmp / "junk.zip"
    junk.write_bytes(b"not a zip")
    res = cli_env("--json", "import", str(junk), code=None)
    assert json.loads(res.stderr)["error"]["code"] == "bundle_invalid"


def test_import_from_an_openmemory_database(cli_env):
    from tests.ops.test_openmemory_db import build_db

    db = cli_env.tmp / "openmemory.db"
    ids = build_db(db)
    args = ("import", "--from-openmemory-db", str(db), "--openmemory-user", "alice", "--user", "alice", "--no-progress")
    res = json.loads(cli_env(*args).stdout)
    assert (res["added"], res["format"]) == (4, "openmemory")
    assert ops.get(cli_env.lib("alice"), ids["archived"]).state == "archived"
    assert json.loads(cli_env(*args).stdout)["added"] == 0  # a second import commits nothing
    both = cli_env("--json", "import", str(db), "--from-openmemory-db", str(db), code=None)
    assert json.loads(both.stderr)["error"]["code"] == "invalid_input"
    several = cli_env("--json", "import", "--from-openmemory-db", str(db), code=None)
    assert "alice, bob" in json.loads(several.stderr)["error"]["message"]
