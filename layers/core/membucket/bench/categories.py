"""Offline category quality: tune the zero-shot rule on one half of a labelled set, score the other.

The labelled set (``tests/data/categories_labelled.jsonl``: ``{"text", "categories", "split"}``)
is membucket's own text. The threshold and margin are chosen on ``split == "tune"`` by micro-F1;
micro precision / recall / F1 are then reported on ``split == "holdout"``, which tuning never saw.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ..categorize.zeroshot import MARGIN, THRESHOLD, TOP_K, ZeroShotCategorizer

__all__ = ["load_labelled", "micro", "tune", "run", "DEFAULT_DATA"]

DEFAULT_DATA = "tests/data/categories_labelled.jsonl"
THRESHOLDS = [round(x, 3) for x in np.arange(0.15, 0.501, 0.01)]
MARGINS = [0.02, 0.04, 0.06, 0.08, 0.10, 0.15, 1.0]


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


def _predict(cat: ZeroShotCategorizer, names: list[str], scores: np.ndarray, threshold: float, margin: float) -> list[list[str]]:
    cat.threshold, cat.margin = threshold, margin
    return [cat.pick(names, row) for row in scores]


def tune(cat: ZeroShotCategorizer, names: list[str], scores: np.ndarray, gold: list[list[str]]) -> tuple[float, float, dict]:
    """The (threshold, margin) with the best micro-F1 (ties: the higher threshold, then the smaller margin)."""
    best: tuple | None = None
    for t in THRESHOLDS:
        for m in MARGINS:
            f = micro(gold, _predict(cat, names, scores, t, m))
            key = (f["f1"], t, -m)
            if best is None or key > best[0]:
                best = (key, t, m, f)
    assert best is not None
    return best[1], best[2], best[3]


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
        from ..embed.minilm import MiniLMEmbedder

        embedder = MiniLMEmbedder()
    rows = load_labelled(data)
    cat = ZeroShotCategorizer(embedder, top_k=TOP_K)
    vectors = embedder.embed([r["text"] for r in rows])
    cat.scores(vectors[:1])  # embeds and caches the prototypes: not part of per-memory cost
    started = time.perf_counter()
    names, scores = cat.scores(vectors)
    per_memory_ms = (time.perf_counter() - started) * 1000 / len(rows)
    halves = {s: [i for i, r in enumerate(rows) if r["split"] == s] for s in ("tune", "holdout")}
    gold = {s: [rows[i]["categories"] for i in idx] for s, idx in halves.items()}
    t, m, tune_scores = tune(cat, names, scores[halves["tune"]], gold["tune"])
    held = _predict(cat, names, scores[halves["holdout"]], t, m)
    shipped = _predict(cat, names, scores[halves["holdout"]], THRESHOLD, MARGIN)
    result = {
        "data": str(data),
        "embedder": embedder.id,
        "memories": {s: len(idx) for s, idx in halves.items()},
        "rule": {"top_k": TOP_K, "tuned_threshold": t, "tuned_margin": m, "shipped_threshold": THRESHOLD, "shipped_margin": MARGIN},
        "tune": tune_scores,
        "holdout": micro(gold["holdout"], held),
        "holdout_shipped_defaults": micro(gold["holdout"], shipped),
        "holdout_avg_predicted": round(sum(map(len, held)) / len(held), 3),
        "holdout_avg_gold": round(sum(map(len, gold["holdout"])) / len(held), 3),
        "holdout_per_category": per_category(gold["holdout"], held, names),
        "scoring_ms_per_memory_batched": round(per_memory_ms, 4),
    }
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(out="bench/results/categories.json"), indent=2))
