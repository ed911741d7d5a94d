"""LoCoMo retrieval smoke test on one conversation, through the real add and search operations.

The data set (evaluation use only) lives outside the repo in ``../shared``; without it the test
skips. Floors: a plain reference BM25 (textbook k1=1.2, b=0.75, no stemming) over the same turns,
and lexical mode's own figure; hybrid must beat the first and match or beat the second.
"""

import math
import re
from collections import Counter
from pathlib import Path

import pytest
from membucket.embed.base import EmbedderUnavailable
from membucket_bench.locomo import evaluate, load, queries_of, turns_of

DATA = Path(__file__).parents[1].parent / "shared/data/locomo/locomo_dev.json"


def reference_bm25_recall10(sample) -> float:
    turns = turns_of(sample)
    docs = [Counter(re.findall(r"\w+", t.text.lower())) for t in turns]
    lengths = [sum(d.values()) for d in docs]
    avgdl, n = sum(lengths) / len(docs), len(docs)
    df = Counter(w for d in docs for w in d)
    total = 0.0
    queries = queries_of(sample, {t.dia_id for t in turns})
    for q in queries:
        terms = set(re.findall(r"\w+", q.question.lower()))
        scores = []
        for d, dl in zip(docs, lengths):
            s = 0.0
            for w in terms & d.keys():
                idf = math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5))
                s += idf * d[w] * 2.2 / (d[w] + 1.2 * (0.25 + 0.75 * dl / avgdl))
            scores.append(s)
        top = sorted(range(n), key=lambda i: -scores[i])[:10]
        found = {turns[i].dia_id for i in top}
        total += len(found & set(q.evidence)) / len(q.evidence)
    return 100.0 * total / len(queries)


@pytest.mark.skipif(not DATA.is_file(), reason=f"LoCoMo dev data not found at {DATA} (evaluation data lives in ../shared)")
def test_hybrid_beats_bm25_on_one_conversation():
    data = load(DATA)
    try:
        results = evaluate(data, ("lexical", "hybrid"), conversations=1)
    except EmbedderUnavailable as exc:  # pragma: no cover - the weights package is a dev dependency
        pytest.skip(f"offline embedder unavailable: {exc}")
    baseline = reference_bm25_recall10(data[0])
    lexical, hybrid = results["lexical"]["overall"], results["hybrid"]["overall"]
    assert results["hybrid"]["data"]["queries"] > 100
    assert hybrid["recall@10"] > baseline, (hybrid, baseline)
    assert hybrid["recall@10"] >= lexical["recall@10"]
    assert hybrid["mrr"] >= lexical["mrr"]
    assert set(results["hybrid"]["by_category"]) == {"multi-hop", "temporal", "open-domain", "single-hop"}


def test_latency_at_scale_reports_every_mode():
    """The scale run behind the 10k latency figure works end to end (figures themselves are benchmarks)."""
    if not DATA.is_file():
        pytest.skip(f"LoCoMo data not found at {DATA}")
    from membucket_bench.locomo import latency_at_scale

    from tests.support.embedders import HashEmbedder

    out = latency_at_scale(load(DATA)[:1], 1500, embedder=HashEmbedder(), queries=20)
    assert out["memories"] == 1500 and out["queries"] == 20
    assert set(out["search"]) == {"dense", "lexical", "hybrid"}
    assert all(v["n"] == 20 and v["p50"] > 0 for v in out["search"].values())
