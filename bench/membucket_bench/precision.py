"""fp32 vs fp16 vs int8 weights for the offline model: size, load, embed time, agreement, LoCoMo recall.

Why: a Lambda container downloads the weights on its first embed; a smaller file is a faster
cold start, kept only if retrieval quality holds (issue 13: LoCoMo dev recall@10 may drop by at
most 0.5 points against fp32). Each precision is converted from the installed fp32 package into
a temporary directory (``membucket.embed.quantize``), loaded in a fresh cache, timed, compared
with fp32 vectors (cosine), and run through the LoCoMo dense protocol (``locomo.evaluate``).

    python -m membucket_bench.precision --data ../shared/data/locomo/locomo_dev.json \\
        --out bench/results/model-precision.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from membucket.embed import minilm
from membucket.embed.quantize import PRECISIONS, WEIGHTS_FILES, convert

from .embedder import make_sentences

BUDGET_POINTS = 0.5  # the recall@10 drop the issue allows


def _prepare(src: Path, dest: Path, precision: str) -> tuple[Path, float]:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(src / name, dest / name)
    start = time.perf_counter()
    convert(src / "model.safetensors", dest / WEIGHTS_FILES[precision], precision)
    return dest, time.perf_counter() - start


def measure(src: Path, work: Path, precision: str, reference: np.ndarray | None, texts: list[str], data, conversations):
    from .locomo import evaluate

    path, convert_s = _prepare(src, work / precision, precision)
    weights = WEIGHTS_FILES[precision]
    minilm._models.clear()
    start = time.perf_counter()
    emb = minilm.MiniLMEmbedder(path, weights=weights, threads=1).load()
    load_s = time.perf_counter() - start
    emb.embed(texts[:4])  # first call allocates
    query_ms = []
    for t in texts[:200]:
        t0 = time.perf_counter()
        emb.embed([t])
        query_ms.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    vectors = emb.embed(texts)
    batch_s = time.perf_counter() - t0
    row = {
        "weights_bytes": (path / weights).stat().st_size,
        "convert_s": round(convert_s, 2),
        "load_s": round(load_s, 3),
        "query_embed_p50_ms": round(statistics.median(query_ms), 2),
        "batch_sentences_per_s": round(len(texts) / batch_s, 1),
    }
    if reference is not None:
        cos = np.einsum("ij,ij->i", vectors, reference)
        row["cosine_vs_fp32"] = {"min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5)}
    if data is not None:
        r = evaluate(data, ("dense",), embedder=emb, conversations=conversations)["dense"]
        row["locomo_dense"] = r["overall"]
        row["locomo_data"] = r["data"]
    return row, vectors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="LoCoMo dev JSON (skip recall without it)")
    ap.add_argument("--conversations", type=int, help="only the first N conversations")
    ap.add_argument("--precisions", default=",".join(PRECISIONS))
    ap.add_argument("--texts", type=int, default=512, help="sentences for the batch and agreement figures")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    from .locomo import load

    data = load(args.data) if args.data else None
    src = minilm.locate_model_dir()
    texts = make_sentences(args.texts, seed=7)
    report: dict = {"cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2), "precisions": {}}
    reference = None
    with tempfile.TemporaryDirectory(prefix="membucket-precision-") as tmp:
        for precision in ["fp32", *[p for p in args.precisions.split(",") if p != "fp32"]]:
            row, vectors = measure(src, Path(tmp), precision, reference, texts, data, args.conversations)
            if precision == "fp32":
                reference = vectors
            report["precisions"][precision] = row
            print(precision, json.dumps(row), flush=True)
    base = report["precisions"]["fp32"].get("locomo_dense", {}).get("recall@10")
    if base is not None:
        for row in report["precisions"].values():
            drop = round(base - row["locomo_dense"]["recall@10"], 2)
            row["recall@10_drop_points"] = drop
            row["within_budget"] = drop <= BUDGET_POINTS
    passing = [p for p in ("int8", "fp16", "fp32") if report["precisions"].get(p, {}).get("within_budget", p == "fp32")]
    report["smallest_within_budget"] = passing[0] if passing else "fp32"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({p: {k: r.get(k) for k in ("weights_bytes", "load_s", "recall@10_drop_points")} for p, r in report["precisions"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
