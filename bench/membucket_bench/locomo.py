"""Retrieval quality on LoCoMo through the real add and search operations.

Protocol (``../shared/data/locomo/README.md``): one namespace per conversation in a fresh
directory store; every turn is one memory ``"(<session date>) <speaker>: <text>"`` (plus
`` [image: <caption>]``), added with ``ops.add_batch`` and its ``dia_id`` in metadata; every
question of category 1-4 with evidence is a query; recall@k is the share of the question's
evidence turns in the top k, MRR the reciprocal rank of the first evidence turn; both are
averaged over questions, per category and overall, and printed in percent.

The data set is evaluation-only (CC BY-NC 4.0): it is read from where it lies, never copied.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from membucket import ops
from membucket.client import Membucket
from membucket.engine.namespace import ReplicaRegistry
from membucket.ops.search import clean_mode
from membucket.settings import Settings

from .common import percentiles

__all__ = ["Turn", "Query", "load", "turns_of", "queries_of", "evaluate", "run", "CATEGORIES"]

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10)


@dataclass
class Turn:
    dia_id: str
    text: str


@dataclass
class Query:
    question: str
    evidence: list[str]
    category: int


@dataclass
class Totals:
    n: int = 0
    sums: dict = field(default_factory=lambda: {f"recall@{k}": 0.0 for k in KS} | {"mrr": 0.0})

    def add(self, ranked: list[str], evidence: set[str]) -> None:
        self.n += 1
        for k in KS:
            self.sums[f"recall@{k}"] += len(evidence & set(ranked[:k])) / len(evidence)
        rr = next((1.0 / (i + 1) for i, d in enumerate(ranked) if d in evidence), 0.0)
        self.sums["mrr"] += rr

    def percent(self) -> dict:
        return {k: round(100.0 * v / self.n, 2) if self.n else 0.0 for k, v in self.sums.items()} | {"n": self.n}


def load(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LoCoMo data not found at {path}")
    return json.loads(path.read_text())


def turns_of(sample: dict) -> list[Turn]:
    conv = sample["conversation"]
    sessions = sorted(
        (int(m.group(1)) for k in conv if (m := re.fullmatch(r"session_(\d+)", k)) and isinstance(conv[k], list)),
    )
    out = []
    for n in sessions:
        date = conv.get(f"session_{n}_date_time", "")
        for t in conv[f"session_{n}"]:
            text = f"({date}) {t['speaker']}: {t['text']}"
            if t.get("blip_caption"):
                text += f" [image: {t['blip_caption']}]"
            out.append(Turn(t["dia_id"], text))
    return out


def queries_of(sample: dict, known: set[str]) -> list[Query]:
    out = []
    for qa in sample["qa"]:
        cat = qa.get("category")
        evidence = [e for e in (qa.get("evidence") or []) if isinstance(e, str) and e in known]
        if cat in CATEGORIES and evidence and qa.get("question"):
            out.append(Query(qa["question"], sorted(set(evidence)), cat))
    return out


def evaluate(
    data: list[dict],
    modes: Iterable[str] = ("hybrid",),
    *,
    embedder=None,
    conversations: int | None = None,
    limit: int = 10,
) -> dict[str, dict]:
    """Figures per mode: {"overall", "by_category", "latency_ms"}; each mode runs the same queries."""
    modes = [clean_mode(m) for m in modes]  # validates
    samples = data[:conversations] if conversations else data
    totals = {m: Totals() for m in modes}
    by_cat = {m: {c: Totals() for c in CATEGORIES} for m in modes}
    search_ms: dict[str, list[float]] = {m: [] for m in modes}
    query_embed_ms: list[float] = []
    add_seconds = 0.0
    n_turns = 0
    with tempfile.TemporaryDirectory(prefix="membucket-locomo-") as tmp:
        settings = Settings(store=str(Path(tmp) / "bucket"), cache_dir=str(Path(tmp) / "cache"))
        mb = Membucket(settings, embedder=embedder, registry=ReplicaRegistry())
        for i, sample in enumerate(samples):
            turns = turns_of(sample)
            n_turns += len(turns)
            ctx = mb.context(f"locomo-{i}-{sample.get('sample_id', i)}")
            by_id: dict[str, str] = {}
            t0 = time.perf_counter()
            step = settings.max_batch
            for j in range(0, len(turns), step):
                chunk = turns[j: j + step]
                ids = ops.add_batch(ctx, [ops.NewMemory(text=t.text, metadata={"dia_id": t.dia_id}) for t in chunk])
                by_id.update(zip(ids, (t.dia_id for t in chunk)))
            add_seconds += time.perf_counter() - t0
            for q in queries_of(sample, {t.dia_id for t in turns}):
                t0 = time.perf_counter()
                vector = ctx.embed_one(q.question)
                query_embed_ms.append((time.perf_counter() - t0) * 1000)
                evidence = set(q.evidence)
                for m in modes:
                    t0 = time.perf_counter()
                    hits = ops.search_vector(ctx, vector, limit=limit, query=q.question, mode=m)
                    search_ms[m].append((time.perf_counter() - t0) * 1000)
                    ranked = [by_id.get(h.id, h.metadata.get("dia_id")) for h in hits]
                    totals[m].add(ranked, evidence)
                    by_cat[m][q.category].add(ranked, evidence)
    out = {}
    for m in modes:
        out[m] = {
            "overall": {k: v for k, v in totals[m].percent().items() if k != "n"},
            "by_category": {CATEGORIES[c]: t.percent() for c, t in by_cat[m].items() if t.n},
            "latency_ms": {
                "add_per_turn": round(1000 * add_seconds / max(n_turns, 1), 3),
                "query_embed": percentiles(query_embed_ms) if query_embed_ms else {},
                "search": percentiles(search_ms[m]) if search_ms[m] else {},
            },
        }
    out_meta = {"conversations": len(samples), "turns": n_turns, "queries": totals[modes[0]].n}
    for m in modes:
        out[m]["data"] = out_meta
    return out


def latency_at_scale(data: list[dict], n: int, modes: Iterable[str] = ("dense", "lexical", "hybrid"), *, embedder=None,
                     queries: int = 300) -> dict:
    """Warm search latency with ``n`` memories in one namespace: LoCoMo turns recycled (text
    numbered so each is distinct, vectors of the original turn with a little noise, one app, as
    one conversation stream) and real LoCoMo questions; the query embedding is timed apart."""
    import numpy as np

    modes = [clean_mode(m) for m in modes]
    turns = [t for s in data for t in turns_of(s)]
    qs = [q.question for s in data for q in queries_of(s, {t.dia_id for t in turns_of(s)})][:queries]
    with tempfile.TemporaryDirectory(prefix="membucket-locomo-scale-") as tmp:
        settings = Settings(store=str(Path(tmp) / "bucket"), cache_dir=str(Path(tmp) / "cache"))
        mb = Membucket(settings, embedder=embedder, registry=ReplicaRegistry(), categorizer=None)
        ctx = mb.context("scale", app="bench")
        base = mb.embedder.embed([t.text for t in turns])
        rng = np.random.default_rng(0)
        for j in range(0, n, settings.max_batch):
            idx = [(j + k) % len(turns) for k in range(min(settings.max_batch, n - j))]
            vecs = base[idx] + rng.normal(0, 0.01, (len(idx), base.shape[1])).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            ops.add_batch(ctx, [ops.NewMemory(text=f"{turns[i].text} (#{j + k})", vector=v) for k, (i, v) in enumerate(zip(idx, vecs))])
        embed_ms, vectors = [], []
        for q in qs:
            t0 = time.perf_counter()
            vectors.append(ctx.embed_one(q))
            embed_ms.append((time.perf_counter() - t0) * 1000)
        out = {"memories": n, "queries": len(qs), "query_embed": percentiles(embed_ms), "search": {}}
        for m in modes:
            ops.search_vector(ctx, vectors[0], query=qs[0], mode=m)  # warm: lexical index, memo
            ms = []
            for q, v in zip(qs, vectors):
                t0 = time.perf_counter()
                ops.search_vector(ctx, v, limit=10, query=q, mode=m)
                ms.append((time.perf_counter() - t0) * 1000)
            out["search"][m] = percentiles(ms)
        return out


def _table(mode: str, r: dict) -> str:
    lines = [f"mode {mode}: {r['data']['queries']} queries over {r['data']['turns']} turns in {r['data']['conversations']} conversations",
             f"{'category':<12} {'n':>5} {'R@1':>7} {'R@5':>7} {'R@10':>7} {'MRR':>7}"]
    for name, c in list(r["by_category"].items()) + [("overall", {**r["overall"], "n": r["data"]["queries"]})]:
        lines.append(f"{name:<12} {c['n']:>5} {c['recall@1']:>7.2f} {c['recall@5']:>7.2f} {c['recall@10']:>7.2f} {c['mrr']:>7.2f}")
    lat = r["latency_ms"]
    lines.append(f"latency: add {lat['add_per_turn']} ms/turn (embedding included), query embed p50 {lat['query_embed'].get('p50')} ms, "
                 f"search p50/p95 {lat['search'].get('p50')}/{lat['search'].get('p95')} ms")
    return "\n".join(lines)


def run(data_path: str, modes: list[str], *, as_json: bool = False, conversations: int | None = None, out: str | None = None,
        scale: int | None = None) -> dict:
    data = load(data_path)
    results = evaluate(data, modes, conversations=conversations)
    if scale:
        at_scale = latency_at_scale(data, scale, modes)
        for r in results.values():
            r["latency_at_scale_ms"] = at_scale
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2) + "\n")
    if as_json:
        if len(results) == 1:
            (r,) = results.values()
            print(json.dumps({k: r[k] for k in ("overall", "by_category", "latency_ms")}))
        else:
            print(json.dumps({m: {k: r[k] for k in ("overall", "by_category", "latency_ms")} for m, r in results.items()}))
    else:
        print("\n\n".join(_table(m, r) for m, r in results.items()))
        if scale:
            sc = next(iter(results.values()))["latency_at_scale_ms"]
            print(f"\nwarm search at {sc['memories']} memories (p50/p95 ms): "
                  + ", ".join(f"{m} {v['p50']}/{v['p95']}" for m, v in sc["search"].items())
                  + f"; query embedding {sc['query_embed']['p50']}/{sc['query_embed']['p95']}")
    return results
