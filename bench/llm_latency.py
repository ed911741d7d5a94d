"""What a slow (or down) LLM costs a write: add latency with LLM categories and with infer.

The model is the local fake OpenAI-compatible server (tests/support/fake_openai.py) answering
after ``--model-ms``, reached through the real ``openai`` client; the store is a local directory
and the embedder the small test one, so the figures isolate the model's share.

    PYTHONPATH=layers/core:. python bench/llm_latency.py --out bench/results/llm.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from membucket import Membucket, Settings, ops
from membucket.engine.namespace import ReplicaRegistry
from membucket.llm import LlmCategorizer
from membucket.ops.pending import FOLLOW_UP, pending_ids

from tests.support.embedders import HashEmbedder
from tests.support.fake_openai import fake_openai

TEXTS = [
    "Alice is allergic to peanuts", "Alice booked a flight to Tokyo", "Alice leads the payments team at work",
    "Alice likes green tea", "Alice's sister lives in Porto", "Alice saves part of her salary every month",
]


def make(root: Path, url: str, name: str, *, categorizer: bool, **kw) -> Membucket:
    settings = Settings(
        store=str(root / name), cache_dir=str(root / f"{name}-cache"), llm="openai", openai_base_url=url,
        openai_api_key="bench", openai_chat_model="fake-chat", llm_max_retries=0, **kw,
    )
    mb = Membucket(settings, embedder=HashEmbedder(), registry=ReplicaRegistry())
    if categorizer:
        mb.categorizer = LlmCategorizer(mb.llm)
    return mb


def timed(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--model-ms", type=float, default=300)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    n, delay = args.n, args.model_ms / 1000
    results: dict = {"model_ms": args.model_ms, "n": n}
    with tempfile.TemporaryDirectory() as tmp, fake_openai(chat_delay=delay) as (url, fake):
        root = Path(tmp)

        def adds(mb, infer=False):
            ctx = mb.context("alice", app="bench")
            return lambda i: ops.add(ctx, f"{TEXTS[i % len(TEXTS)]} (note {i})", infer=infer)

        mb = make(root, url, "plain", categorizer=False)
        results["add, no categorizer"] = summary(timed(adds(mb), n))

        mb = make(root, url, "async", categorizer=True, categorize_async=True)
        start = time.perf_counter()
        results["add, LLM categories on a background thread (server)"] = summary(timed(adds(mb), n))
        FOLLOW_UP.flush()
        results["add, LLM categories on a background thread (server)"]["all_filled_after_s"] = round(time.perf_counter() - start, 2)
        assert pending_ids(mb.context("alice")) == []

        mb = make(root, url, "inline", categorizer=True, categorize_async=False)
        results["add, LLM categories inline after the commit (Lambda)"] = summary(timed(adds(mb), n))

        mb = make(root, url, "infer", categorizer=True, categorize_async=True)
        results["add infer=true (extract + reconcile), categories in background"] = summary(timed(adds(mb, infer=True), n))
        FOLLOW_UP.flush()

        fake.chat_delay = 5.0  # the model hangs; the client gives up after llm_timeout_seconds
        mb = make(root, url, "down-async", categorizer=True, categorize_async=True, llm_timeout_seconds=1.0)
        results["add, model hanging (1 s timeout), background"] = summary(timed(adds(mb), 5))
        mb = make(root, url, "down-inline", categorizer=True, categorize_async=False, llm_timeout_seconds=1.0)
        results["add, model hanging (1 s timeout), inline"] = summary(timed(adds(mb), 5))
        FOLLOW_UP.flush()
    print(f"model latency {args.model_ms:g} ms (fake server), n={n}")
    for name, row in results.items():
        if isinstance(row, dict):
            print(f"  {name:70s} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
