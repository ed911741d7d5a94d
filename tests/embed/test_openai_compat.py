"""The OpenAI-compatible embedder through the real ``openai`` client against a local fake server."""

from __future__ import annotations

import numpy as np
import pytest
from membucket import Membucket, Settings, errors, ops
from membucket.embed.openai_compat import OpenAIEmbedder
from membucket.engine.namespace import ReplicaRegistry

from tests.support.fake_openai import fake_openai

KEY = "sk-test-secret-do-not-store"


def make(url, **kw):
    return OpenAIEmbedder("fake-embed", base_url=url, api_key=KEY, timeout=kw.pop("timeout", 5), max_retries=kw.pop("max_retries", 0), **kw)


def test_vectors_are_unit_rows_in_order_and_batched():
    with fake_openai() as (url, fake):
        emb = make(url, batch_size=2)
        out = emb.embed(["alpha beta", "gamma", "alpha beta"])
        assert out.shape == (3, 48) and out.dtype == np.float32
        assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
        assert np.allclose(out[0], out[2])  # server answered indexes in reverse: order restored
        assert [len(r["input"]) for r in fake.requests] == [2, 1]
        assert fake.headers[0]["authorization"] == f"Bearer {KEY}"
        assert emb.dim == 48 and emb.id == "openai/fake-embed"


def test_retries_then_succeeds_and_errors_become_503():
    with fake_openai(fail_next=1) as (url, fake):
        assert make(url, max_retries=2).embed(["x"]).shape == (1, 48)
        fake.fail_next = 10
        with pytest.raises(errors.ServiceUnavailable) as info:
            make(url, max_retries=1).embed(["x"])
        assert info.value.status == 503 and KEY not in info.value.message


def test_timeout_is_a_503():
    with fake_openai(delay=2.0) as (url, _):
        with pytest.raises(errors.ServiceUnavailable):
            make(url, timeout=0.3).embed(["slow"])


def test_memory_ops_with_a_remote_embedder_keep_the_key_out_of_the_bucket(tmp_path):
    with fake_openai() as (url, fake):
        settings = Settings(
            store=str(tmp_path / "bucket"), cache_dir=str(tmp_path / "cache"), embedder="openai",
            openai_base_url=url, openai_api_key=KEY, openai_embedding_model="fake-embed", openai_max_retries=0,
        )
        mb = Membucket(settings, registry=ReplicaRegistry())
        ctx = mb.context("alice", app="agent")
        mid = ops.add(ctx, "Alice plays the cello on Sundays").events[0].id
        assert ops.search(ctx, "cello Sundays")[0].id == mid
        assert ops.stats(mb.context("alice"))["index"]["embedder"] == "openai/fake-embed"
        fake.fail_next = 5
        with pytest.raises(errors.ServiceUnavailable):
            ops.add(ctx, "this one cannot be embedded")
        assert ops.list_memories(mb.context("alice")).total == 1  # nothing half-written
        from membucket.ops.access import ACCESS_WRITER

        ACCESS_WRITER.flush()
        for info in mb.store.list(""):
            assert KEY.encode() not in mb.store.get(info.key).body, info.key
        assert "***" == __import__("membucket.doctor", fromlist=["x"])._config(mb)["openai_api_key"]
