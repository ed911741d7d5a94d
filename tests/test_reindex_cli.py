"""`membucket reindex` end to end: HashEmbedder (64-d) data moved to an OpenAI-compatible model
(the real openai client against tests/support/fake_openai.py, 48-d)."""

from __future__ import annotations

import json
import math

import pytest
from membucket import ops
from membucket.embed.openai_compat import OpenAIEmbedder
from membucket.engine.namespace import REGISTRY
from membucket.errors import EmbedderMismatch
from membucket.ops.add import NewMemory

from tests.support.cli import cli_invoker
from tests.support.embedders import HashEmbedder
from tests.support.factories import make_mb
from tests.support.fake_openai import fake_openai

ALICE = [f"alice note {i}: likes topic {i % 7} and place {i % 5}" for i in range(30)]
BOB = [f"bob note {i} about project {i}" for i in range(9)]


@pytest.fixture
def openai_env(tmp_path, monkeypatch):
    with fake_openai() as (url, fake):
        store = str(tmp_path / "bucket")
        for name, value in {
            "MEMBUCKET_STORE": store, "MEMBUCKET_OPENAI_BASE_URL": url,
            "MEMBUCKET_OPENAI_EMBEDDING_MODEL": "fake-embed", "MEMBUCKET_OPENAI_MAX_RETRIES": "0",
        }.items():
            monkeypatch.setenv(name, value)
        REGISTRY.clear()
        old = make_mb(store, tmp_path / "seed-cache", embedder=HashEmbedder())
        ops.add_batch(old.context("alice"), [NewMemory(t) for t in ALICE])
        ops.add_batch(old.context("bob"), [NewMemory(t) for t in BOB])
        yield cli_invoker(), fake, url, store, tmp_path


def inputs(fake) -> list[int]:
    return [len(r["input"]) if isinstance(r["input"], list) else 1 for r in fake.requests]


def test_cli_reindex_moves_every_namespace_to_the_new_model(openai_env):
    run, fake, url, store, tmp = openai_env
    dry = json.loads(run("reindex", "--embedder", "openai", "--user", "alice", "--dry-run").stdout)
    assert (dry["status"], dry["memories"], dry["previous_embedder"]) == ("dry_run", 30, "test/hash-64")
    assert dry["embedder"] == "openai/fake-embed" and dry["dim"] == 48

    fake.fail_next = 1  # the provider is down: a clear error, exit 1, nothing switched
    failed = run("reindex", "--embedder", "openai", "--all-users", code=1)
    assert failed.stderr.splitlines()[-1].startswith("error: unavailable:")

    fake.requests.clear()
    out = json.loads(run("reindex", "--embedder", "openai", "--all-users", "--batch", "7").stdout)
    assert [(r["user"], r["status"], r["memories"], r["dim"]) for r in out] == [("alice", "switched", 30, 48), ("bob", "switched", 9, 48)]
    sizes = inputs(fake)
    # one probe for the dimension, then batches of at most 7: 30 -> 5 calls, 9 -> 2 calls
    assert sizes[1:] == [7, 7, 7, 7, 2, 7, 2] and sum(sizes[1:]) == 39
    assert len(sizes) == 1 + math.ceil(30 / 7) + math.ceil(9 / 7)

    new = make_mb(store, tmp / "new-cache", embedder=OpenAIEmbedder("fake-embed", base_url=url, max_retries=0))
    hit = ops.search(new.context("alice"), ALICE[12], limit=1, mode="dense")[0]
    assert hit.text == ALICE[12] and hit.score > 0.99
    old = make_mb(store, tmp / "old-cache", embedder=HashEmbedder())
    with pytest.raises(EmbedderMismatch):
        ops.add(old.context("bob", app="cursor"), "bob note about a new project")

    again = json.loads(run("reindex", "--embedder", "openai", "--all-users").stdout)
    assert [r["status"] for r in again] == ["already", "already"]


def test_cli_reindex_refuses_bad_arguments(openai_env):
    run, *_ = openai_env
    assert run("reindex", "--embedder", "openai", "--user", "alice", "--all-users", code=2).exit_code == 2
    assert "error: invalid_input:" in run("reindex", "--embedder", "nope", code=1).stderr
    assert "error: invalid_input:" in run("reindex", "--embedder", "openai", "--batch", "0", code=1).stderr
    assert "error: invalid_user_id:" in run("reindex", "--embedder", "openai", "--user", "../x", code=1).stderr
