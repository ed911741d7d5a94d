"""Offline category quality: tune the zero-shot rule on one half of a labelled set, score the other.

The labelled set (``tests/data/categories_labelled.jsonl``: ``{"text", "categories", "split"}``)
is membucket's own text. The threshold, margin and top-k are chosen on ``split == "tune"`` by micro-F1;
micro precision / recall / F1 are then reported on ``split == "holdout"``, which tuning never saw.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from membucket.categorize.zeroshot import MARGIN, THRESHOLD, TOP_K, ZeroShotCategorizer

__all__ = ["load_labelled", "micro", "tune", "run", "DEFAULT_DATA"]

DEFAULT_DATA = "tests/data/categories_labelled.jsonl"
THRESHOLDS = [round(x, 3) for x in np.arange(0.15, 0.501, 0.01)]
MARGINS = [0.02, 0.04, 0.06, 0.08, 0.10, 0.15, 1.0]  # 1.0: no margin rule
TOP_KS = [1, 2, 3]


def load_labelled(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def micro(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro-averaged precision, recall and F1 over (memory, category) pairs."""
    tp = sum(len(set(g) & set(p)) for g, p in zip(gold, pred))
    n_pred = sum(len(set(p)) for p in pred)
    n_gold = sum(len(set(g)) for g in gold)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _predict(cat: ZeroShotCategorizer, names: list[str], scores: np.ndarray, threshold: float, margin: float, top_k: int) -> list[list[str]]:
    cat.threshold, cat.margin, cat.top_k = threshold, margin, top_k
    return [cat.pick(names, row) for row in scores]


def tune(cat: ZeroShotCategorizer, names: list[str], scores: np.ndarray, gold: list[list[str]]) -> tuple[float, float, int, dict]:
    """The (threshold, margin, top_k) with the best micro-F1 (ties: fewer categories, higher threshold, smaller margin)."""
    best: tuple | None = None
    for k in TOP_KS:
        for t in THRESHOLDS:
            for m in MARGINS:
                f = micro(gold, _predict(cat, names, scores, t, m, k))
                key = (f["f1"], -k, t, -m)
                if best is None or key > best[0]:
                    best = (key, t, m, k, f)
    assert best is not None
    return best[1], best[2], best[3], best[4]


def _best_per_top_k(cat, names, tune_scores, tune_gold, hold_scores, hold_gold) -> dict:
    """For each top-k: the threshold/margin tuned on the tune half, and its holdout figures."""
    out = {}
    for k in TOP_KS:
        best = max(
            (micro(tune_gold, _predict(cat, names, tune_scores, t, m, k))["f1"], t, -m) for t in THRESHOLDS for m in MARGINS
        )
        t, m = best[1], -best[2]
        out[str(k)] = {"threshold": t, "margin": m, "tune_f1": best[0], "holdout": micro(hold_gold, _predict(cat, names, hold_scores, t, m, k))}
    return out


def per_category(gold: list[list[str]], pred: list[list[str]], names: list[str]) -> dict[str, dict]:
    out = {}
    for n in names:
        g = [[n] if n in x else [] for x in gold]
        p = [[n] if n in x else [] for x in pred]
        out[n] = {**micro(g, p), "support": sum(len(x) for x in g)}
    return out


def run(data: str | Path = DEFAULT_DATA, out: str | None = None, embedder=None) -> dict:
    """Tune on the tune half, report on the holdout half, with the shipped defaults scored too."""
    if embedder is None:
        from membucket.embed.minilm import MiniLMEmbedder

        embedder = MiniLMEmbedder()
    rows = load_labelled(data)
    cat = ZeroShotCategorizer(embedder)
    vectors = embedder.embed([r["text"] for r in rows])
    cat.scores(vectors[:1])  # embeds and caches the prototypes: not part of per-memory cost
    started = time.perf_counter()
    names, scores = cat.scores(vectors)
    per_memory_ms = (time.perf_counter() - started) * 1000 / len(rows)
    halves = {s: [i for i, r in enumerate(rows) if r["split"] == s] for s in ("tune", "holdout")}
    gold = {s: [rows[i]["categories"] for i in idx] for s, idx in halves.items()}
    tune_s, hold_s = scores[halves["tune"]], scores[halves["holdout"]]
    t, m, k, tune_scores = tune(cat, names, tune_s, gold["tune"])
    by_k = _best_per_top_k(cat, names, tune_s, gold["tune"], hold_s, gold["holdout"])
    held = _predict(cat, names, hold_s, t, m, k)
    shipped = _predict(cat, names, hold_s, THRESHOLD, MARGIN, TOP_K)
    result = {
        "data": str(data),
        "embedder": embedder.id,
        "memories": {s: len(idx) for s, idx in halves.items()},
        "rule": {
            "tuned": {"threshold": t, "margin": m, "top_k": k},
            "shipped": {"threshold": THRESHOLD, "margin": MARGIN, "top_k": TOP_K},
        },
        "tune": tune_scores,
        "holdout": micro(gold["holdout"], held),
        "holdout_shipped_defaults": micro(gold["holdout"], shipped),
        "holdout_avg_predicted": round(sum(map(len, held)) / len(held), 3),
        "holdout_avg_gold": round(sum(map(len, gold["holdout"])) / len(held), 3),
        "by_top_k": by_k,
        "holdout_per_category": per_category(gold["holdout"], held, names),
        "scoring_ms_per_memory_batched": round(per_memory_ms, 4),
    }
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(out="bench/results/categories.json"), indent=2))
