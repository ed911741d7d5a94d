"""``membucket recategorize`` and ``membucket category``, through CliRunner, checked through the library."""

from __future__ import annotations

import json

import pytest
from membucket import ops


@pytest.fixture
def env(cli_env, monkeypatch):
    """The shared CLI (tests/conftest.py) with, as its default categorizer, 'the first word'."""
    monkeypatch.setattr("membucket.categorize.factory.load_categorizer", lambda settings, embedder: lambda t, v: [t.split()[0].lower()])
    return cli_env


def test_recategorize_missing_all_and_ids(env):
    ctx = env.lib()
    plain = ops.add_batch(ctx, [ops.NewMemory("Plain one"), ops.NewMemory("Second plain")])
    given = ops.add(ctx, "Given categories", categories=["mine"]).events[0].id
    out = json.loads(env("recategorize", "--missing").stdout)
    assert (out["scanned"], out["changed"]) == (2, 2)
    ctx = env.lib()
    assert [ops.get(ctx, m).categories for m in plain] == [["plain"], ["second"]]
    assert ops.get(ctx, given).categories == ["mine"]
    out = json.loads(env("recategorize", given).stdout)
    assert out["changed_ids"] == [given] and ops.get(env.lib(), given).categories == ["given"]
    assert json.loads(env("recategorize", "--all").stdout)["unchanged"] == 3


def test_recategorize_refuses_bad_input(env):
    assert "give memory ids, --all or --missing" in env("recategorize", code=2).stderr
    assert "not both" in env("recategorize", "--all", "--missing", code=2).stderr
    r = env("recategorize", "00000000-0000-4000-8000-000000000000", code=1)
    assert r.stderr.startswith("error: not_found:")
    assert env("recategorize", "nope", code=1).stderr.startswith("error: invalid_id:")


def test_category_define_list_delete(env):
    out = json.loads(env("category", "define", "Gardening", "Plants, compost and seeds").stdout)
    assert out["name"] == "gardening" and out["description"] == "Plants, compost and seeds"
    assert [d.name for d in ops.list_category_defs(env.lib())] == ["gardening"]
    assert [d["name"] for d in json.loads(env("category", "list").stdout)] == ["gardening"]
    env("category", "delete", "gardening")
    assert ops.list_category_defs(env.lib()) == []
    assert env("category", "delete", "gardening", code=1).stderr.startswith("error: not_found:")
    assert env("category", "define", "x", "   ", code=1).stderr.startswith("error: invalid_input:")
