"""fp16 and int8 weight files (membucket.embed.quantize): what they store, and that they embed like fp32."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from membucket.embed.minilm import MiniLMEmbedder, locate_model_dir
from membucket.embed.quantize import WEIGHTS_FILES, convert, load_weights, quantize_int8
from safetensors import safe_open

SENTENCES = ["Alice drinks oolong tea every morning", "The staging cluster runs in eu-west-1",
             "Bob is learning Kotlin for the Android app", "Chen prefers window seats on long flights"]


def test_int8_rows_scale_to_their_peak_and_round_trip_within_half_a_step():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 50)).astype(np.float32)
    w[3] = 0.0
    q, scale = quantize_int8(w)
    assert q.dtype == np.int8 and scale.shape == (6,) and scale[3] == 1.0
    assert np.abs(q).max(axis=1)[[0, 1, 2, 4, 5]].tolist() == [127] * 5
    assert np.all(np.abs(q * scale[:, None] - w) <= scale[:, None] / 2 + 1e-7)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    src = locate_model_dir()
    dest = tmp_path_factory.mktemp("model")
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(src / name, dest / name)
    for precision in ("fp16", "int8"):
        convert(src / WEIGHTS_FILES["fp32"], dest / WEIGHTS_FILES[precision], precision)
    return src, dest


def test_converted_files_are_smaller_and_say_what_they_hold(converted):
    src, dest = converted
    fp32 = (src / WEIGHTS_FILES["fp32"]).stat().st_size
    assert (dest / WEIGHTS_FILES["fp16"]).stat().st_size < 0.51 * fp32
    assert (dest / WEIGHTS_FILES["int8"]).stat().st_size < 0.26 * fp32
    with safe_open(str(dest / WEIGHTS_FILES["int8"]), framework="np") as f:
        assert f.metadata() == {"membucket_precision": "int8"}
    weights = load_weights(dest / WEIGHTS_FILES["int8"])
    assert all(t.dtype == np.float32 for t in weights.values() if t.dtype.kind == "f")
    assert not any(name.endswith(".int8_scale") for name in weights)


@pytest.mark.parametrize(("precision", "floor"), [("fp16", 0.9999), ("int8", 0.99)])
def test_smaller_weights_embed_like_fp32(converted, precision, floor):
    src, dest = converted
    exact = MiniLMEmbedder(src).embed(SENTENCES)
    approx = MiniLMEmbedder(dest, weights=WEIGHTS_FILES[precision]).embed(SENTENCES)
    assert np.einsum("ij,ij->i", exact, approx).min() >= floor
