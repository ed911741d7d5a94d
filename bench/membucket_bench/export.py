"""Export and import of N memories with 384-d synthetic vectors: time, peak memory, bundle size.

``membucket bench export --n 100000`` (or ``python -m membucket_bench.export``). A directory
store in a temporary directory; the namespace is seeded through ``ops.add_batch`` in batches
and compacted, so the figures are export/import alone. Memory is the peak resident set above
the phase's starting point (sampled every 20 ms; it includes DuckDB, FAISS and the replica the
phase builds). tracemalloc is not used: it slowed the phases 2-5x (every JSON row allocates).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from membucket import ops
from membucket.client import Membucket
from membucket.embed.base import normalize
from membucket.engine.namespace import ReplicaRegistry
from membucket.settings import Settings

from .common import RandomEmbedder

__all__ = ["run"]

BATCH = 5000


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@contextmanager
def measured() -> Iterator[dict]:
    """Wall and CPU time, and sampled peak RSS growth, of the block."""
    out: dict[str, Any] = {}
    base = _rss()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], _rss())

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    start, cpu = time.perf_counter(), time.process_time()
    try:
        yield out
    finally:
        out["seconds"] = round(time.perf_counter() - start, 2)
        out["cpu_seconds"] = round(time.process_time() - cpu, 2)  # steadier than wall time on a shared machine
        stop.set()
        t.join()
        out["rss_growth_peak_mb"] = round((max(peak[0], _rss()) - base) / 2**20, 1)


def _seed(ctx, n: int, dim: int) -> float:
    rng = np.random.default_rng(7)
    words = np.array(["coffee", "paris", "meeting", "project", "allergy", "bicycle", "sister", "budget", "python", "garden"])
    start = time.perf_counter()
    for lo in range(0, n, BATCH):
        hi = min(n, lo + BATCH)
        vecs = normalize(rng.standard_normal((hi - lo, dim)).astype(np.float32))
        items = [
            ops.NewMemory(text=f"memory {i}: " + " ".join(words[rng.integers(0, len(words), 8)]), vector=v,
                          categories=[str(words[i % len(words)])], metadata={"i": i})
            for i, v in zip(range(lo, hi), vecs)
        ]
        ops.add_batch(ctx, items)
    return time.perf_counter() - start


def run(n: int = 100_000, dim: int = 384, out: str | None = "bench/results/export.json") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mb-bench-export-") as tmp:
        root = Path(tmp)
        settings = Settings(store=str(root / "bucket"), cache_dir=str(root / "cache"), max_batch=BATCH, compact_after=0)
        mb = Membucket(settings, embedder=RandomEmbedder(dim), registry=ReplicaRegistry())
        src = mb.context("source", app="bench")
        seed_s = _seed(src, n, dim)
        owner = mb.context("source")
        ops.change_state(owner, [m.id for m in ops.list_memories(owner, size=100).items], "archived")
        mb.compact("source")
        print(f"seeded {n} memories in {seed_s:.1f} s")

        bundle = root / "bundle.zip"
        with measured() as exp, open(bundle, "wb") as f:
            manifest = ops.export_bundle(owner, f)
        exp["bundle_mb"] = round(bundle.stat().st_size / 2**20, 1)
        print(f"export: {exp}")

        sealed = root / "bundle.mbx"
        with measured() as enc, open(sealed, "wb") as f:
            ops.export_bundle(owner, f, passphrase="bench passphrase")
        enc["bundle_mb"] = round(sealed.stat().st_size / 2**20, 1)
        print(f"export --encrypt: {enc}")

        target = mb.context("target")
        with measured() as imp:
            result = ops.import_bundle(target, bundle)
        imp["result"] = result.to_dict()
        entry = mb.store.head(target.ns.keys.log(result.seq))
        parts = list(mb.store.list(target.ns.keys.blobs_prefix))
        imp["log_entry_kb"] = round(entry.size / 1024, 1)
        imp["parts"] = len(parts)
        imp["parts_mb"] = round(sum(p.size for p in parts) / 2**20, 1)
        print(f"import: {imp}")

        with measured() as again:
            second = ops.import_bundle(target, bundle)
        again["result"] = second.to_dict()
        print(f"import again (nothing to do): {again}")

        with measured() as dec:
            ops.import_bundle(mb.context("target2"), sealed, passphrase="bench passphrase")
        print(f"import encrypted: {dec}")

        cold = Membucket(Settings(store=settings.store, cache_dir=str(root / "cache-cold")), embedder=RandomEmbedder(dim), registry=ReplicaRegistry())
        with measured() as replay:
            with cold.context("target").ns.read() as rep:
                replay["memories"] = rep.con.execute("SELECT count(*) FROM memories").fetchone()[0]
        print(f"cold replay of the import entry: {replay}")

        results = {
            "n": n, "dim": dim, "store": "local directory", "cpus": os.cpu_count(), "seed_seconds": round(seed_s, 1),
            "manifest_counts": manifest["counts"], "export": exp, "export_encrypted": enc, "import": imp,
            "import_again": again, "import_encrypted": dec, "cold_replay": replay,
        }
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {out}")
    return results


if __name__ == "__main__":
    run()
