"""Benchmark of the offline MiniLM embedder: batch throughput and single-query latency.

Why: the local embedder sits on every write (batches) and every recall (one short query), so
both numbers matter; targets are >= 200 sentences/s for batches of typical sentences and
<= 15 ms for one short query, on 2 cores. Inputs are generated deterministically from a built-in
word list (no external data), so runs are comparable across machines and commits.

    python -m membucket_bench.embedder --out bench/results/embedder.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

import numpy as np

_WORDS = (
    "the a of and to in is for on that with as it was by at from this be are or an have not "
    "user memory note meeting project deadline budget report server bucket index query vector "
    "prefers remember yesterday tomorrow morning evening coffee team client release version bug "
    "fix deploy review design document email phone call address city travel flight hotel "
    "dinner birthday family friend doctor appointment medicine weather rain sunny cold warm "
    "language python rust database cache latency throughput error warning timeout retry "
    "invoice payment subscription account password settings dark mode theme keyboard screen "
    "music movie book chapter author recipe garden dog cat walk run gym weekly monthly quarter "
    "important urgent later maybe always never often quickly slowly carefully new old big small "
    "red blue green open closed first last next previous because although however therefore "
    "asked said wrote sent booked cancelled moved updated deleted created shared liked visited "
    "Alice Bob Carol Dave Paris London Tokyo Berlin Monday Friday January July 2024 2025 42 "
    "café naïve résumé"
).split()


def make_sentences(n: int, min_words: int = 10, max_words: int = 30, seed: int = 0) -> list[str]:
    """n deterministic pseudo-sentences of min..max words (about 12-40 tokens with specials)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.choices(_WORDS, k=rng.randint(min_words, max_words))
        words[0] = words[0].capitalize()
        out.append(" ".join(words) + rng.choice(".?!"))
    return out


def run(out_path: str | None = None, n: int = 512, queries: int = 100) -> dict:
    """Measure, print a short table, and write JSON to ``out_path`` if given. Returns the figures."""
    from membucket.embed.minilm import MiniLMEmbedder, _get_model

    embedder = MiniLMEmbedder()
    t0 = time.perf_counter()
    embedder.load()
    load_s = time.perf_counter() - t0

    batch = make_sentences(n, seed=1)
    qs = make_sentences(queries, min_words=3, max_words=10, seed=2)
    embedder.embed(batch[:64])  # warm caches and the worker pool
    tokens = [len(e.ids) for e in _get_model(embedder._path).tokenizer.encode_batch_fast(batch)]

    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        vecs = embedder.embed(batch)
        runs.append(time.perf_counter() - t0)
    assert vecs.shape == (n, embedder.dim)
    best = min(runs)

    for q in qs[:10]:
        embedder.embed([q])
    lat = []
    for q in qs:
        t0 = time.perf_counter()
        embedder.embed([q])
        lat.append((time.perf_counter() - t0) * 1e3)
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, round(p / 100 * (len(lat) - 1)))]

    result = {
        "embedder": embedder.id,
        "n_sentences": n,
        "mean_tokens": round(statistics.fmean(tokens), 1),
        "throughput_sps": round(n / best, 1),
        "throughput_sps_median": round(n / statistics.median(runs), 1),
        "batch_seconds": [round(r, 4) for r in runs],
        "n_queries": len(qs),
        "query_p50_ms": round(pct(50), 2),
        "query_p95_ms": round(pct(95), 2),
        "query_max_ms": round(lat[-1], 2),
        "load_seconds": round(load_s, 3),
        "loadavg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "workers": embedder._threads,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "targets": {"throughput_sps_min": 200, "query_p50_ms_max": 15},
    }
    rows = [
        ("batch throughput", f"{result['throughput_sps']:.1f} sentences/s", f"{n} sentences, {result['mean_tokens']} tokens avg"),
        ("query latency p50", f"{result['query_p50_ms']:.2f} ms", f"{len(qs)} single queries"),
        ("query latency p95", f"{result['query_p95_ms']:.2f} ms", ""),
        ("model load", f"{load_s:.2f} s", f"{result['workers']} workers (1 BLAS thread each), {result['cpus']} cpus"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>20}  {note}")
    if out_path:
        path = Path(out_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {path}")
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Benchmark the offline MiniLM embedder.")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("-n", type=int, default=512, help="sentences in the throughput batch")
    args = ap.parse_args(argv)
    run(args.out, n=args.n)


if __name__ == "__main__":
    main()
