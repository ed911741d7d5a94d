"""``python -m membucket_bench.reindex``: time to move N memories to another embedder, model excluded.

The namespace is seeded with random 384-d vectors, then reindexed into a random 256-d "model"
(RandomEmbedder: a hash of the text seeds the vector). Time inside ``embed`` is measured and
subtracted, so the figure is the engine's: snapshot, parts and pack uploads, the switch commit
and its replay (DuckDB UPDATE of every vector, FAISS rebuild), and the checkpoint. Also timed: a
re-run where every part already exists (resume cost, into a second target), and a replica left
behind at the previous sequence catching up by replaying the switch entry.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from membucket import ops
from membucket.client import Membucket
from membucket.engine.namespace import ReplicaRegistry
from membucket.ops.reindex import prepare, reindex
from membucket.settings import Settings
from rich.console import Console

from .common import RandomEmbedder, moto_server

__all__ = ["run"]

console = Console(stderr=True)


class TimedEmbedder(RandomEmbedder):
    """RandomEmbedder with another id, counting the seconds spent embedding."""

    def __init__(self, dim: int, tag: str) -> None:
        super().__init__(dim)
        self.id = f"bench/random-{dim}-{tag}"
        self.seconds = 0.0
        self.calls = 0

    def embed(self, texts):
        t = time.perf_counter()
        try:
            return super().embed(texts)
        finally:
            self.seconds += time.perf_counter() - t
            self.calls += 1


def _mb(store_url: str, cache: Path, endpoint: str | None) -> Membucket:
    s = Settings(store=store_url, cache_dir=str(cache), endpoint_url=endpoint, compact_after=0, max_batch=1000)
    return Membucket(s, embedder=RandomEmbedder(), registry=ReplicaRegistry())


def _measure(store_url: str, endpoint: str | None, root: Path, n: int, batch: int) -> dict:
    user = f"reindex-{n}"
    mb = _mb(store_url, root / "cache-a", endpoint)
    ctx = mb.context(user)
    seed = RandomEmbedder()
    for start in range(0, n, 1000):
        texts = [f"memory {i} of {user}: some words about topic {i % 97}" for i in range(start, min(n, start + 1000))]
        ops.add_batch(ctx, [ops.NewMemory(text=t, vector=v) for t, v in zip(texts, seed.embed(texts))])
    mb.compact(user, gc=False)

    first = TimedEmbedder(256, "a")
    t = time.perf_counter()
    full = reindex(mb.namespace(user), first, batch=batch)
    full_s = time.perf_counter() - t

    lagging = _mb(store_url, root / "cache-lag", endpoint)
    ops.list_memories(lagging.context(user))  # a replica that will replay the next switch

    second = TimedEmbedder(256, "b")
    prepare(mb.namespace(user), second, batch=batch)  # an interrupted run left every part behind
    calls = second.calls
    t = time.perf_counter()
    reindex(mb.namespace(user), second, batch=batch)
    resumed_s = time.perf_counter() - t

    t = time.perf_counter()
    with lagging.namespace(user).read() as rep:
        assert rep.embedder == second.id
    replay_s = time.perf_counter() - t
    return {
        "n": n,
        "batch": batch,
        "full_s": round(full_s, 3),
        "full_embed_s": round(first.seconds, 3),
        "full_excluding_model_s": round(full_s - first.seconds, 3),
        "resume_from_parts_s": round(resumed_s, 3),
        "resume_embed_calls": second.calls - calls,
        "lagging_replica_replay_s": round(replay_s, 3),
        "checkpoint_written": full.checkpoint_written,
    }


def run(sizes: list[int], backends: list[str], batch: int, out: str | None) -> dict:
    results: dict = {"created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "backends": {}}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="mb-bench-reindex-") as tmp:
            root = Path(tmp)
            if backend == "local":
                rows = [_measure(str(root / "bucket"), None, root, n, batch) for n in sizes]
            elif backend == "moto":
                import boto3

                with moto_server() as endpoint:
                    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"), ("AWS_DEFAULT_REGION", "us-east-1")):
                        os.environ.setdefault(name, value)
                    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
                    rows = [_measure("s3://bench/mb", endpoint, root, n, batch) for n in sizes]
            else:
                raise ValueError(f"unknown backend {backend!r}; use local or moto")
        results["backends"][backend] = rows
        for r in rows:
            console.print(f"{backend} n={r['n']}: {json.dumps(r)}")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
        console.print(f"wrote {out}")
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", default="10000", help="comma-separated namespace sizes")
    p.add_argument("--backends", default="local,moto")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--out", default="bench/results/reindex.json")
    a = p.parse_args()
    run([int(x) for x in a.n.split(",")], a.backends.split(","), a.batch, a.out)


if __name__ == "__main__":
    main()
