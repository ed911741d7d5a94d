"""``membucket bench engine-storage``: what issue 12 asks of the store's size and traffic.

- bytes in the store per memory after ``adds`` single adds (default settings: automatic
  compaction, the GC grace), before and after the grace has passed;
- bytes PUT per add, averaged over ``measured`` single adds into a ``base``-memory namespace
  (built through the batch path and compacted first), counted by a store wrapper;
- cold start to the first search answer at ``base`` memories: a new instance with an empty
  cache, on the directory store and on moto's server (dense-only and hybrid search).

Vectors are random unit vectors (RandomEmbedder): the figures are the engine's and the store's.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from membucket import ops
from membucket.client import Membucket
from membucket.engine.checkpoint import collect_garbage, read_manifest, read_pointer
from membucket.engine.keys import NamespaceKeys
from membucket.engine.namespace import ReplicaRegistry
from membucket.settings import Settings
from membucket.store import ObjectStore, open_store
from rich.console import Console

from .common import RandomEmbedder, moto_server

__all__ = ["run", "CountingStore"]

console = Console(stderr=True)


class CountingStore:
    """Counts bytes and requests PUT through it (everything else passes through)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner, self.url = inner, inner.url
        self.put_bytes = 0
        self.puts = 0

    def put(self, key, body, condition=None):
        self.put_bytes += len(body)
        self.puts += 1
        return self.inner.put(key, body, condition)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _mb(url: str, cache: Path, store: Any = None, endpoint: str | None = None, **kw: Any) -> Membucket:
    s = Settings(store=url, cache_dir=str(cache), endpoint_url=endpoint, max_batch=1000, categorize_async=False, **kw)
    return Membucket(s, store=store, embedder=RandomEmbedder(), registry=ReplicaRegistry())


def _store_bytes(store: ObjectStore, user: str) -> dict[str, int]:
    """Bytes under ``ns/<user>/`` by kind (log, segments, checkpoints, ...)."""
    out: Counter[str] = Counter()
    for info in store.list(f"ns/{user}/"):
        out[info.key.split("/")[2]] += info.size
    out["total"] = sum(out.values())
    return dict(out)


def bytes_per_memory(root: Path, adds: int) -> dict[str, Any]:
    user = "b10k"
    url = str(root / "bucket-10k")
    mb = _mb(url, root / "c10k")
    ctx = mb.context(user)
    t = time.perf_counter()
    for i in range(adds):
        ops.add(ctx, f"single add {i}: a memory about topic {i % 97} and item {i}")
    seconds = time.perf_counter() - t
    before = _store_bytes(mb.store, user)
    grace = mb.settings.retention_seconds
    collect_garbage(mb.store, NamespaceKeys(user), grace, now=time.time() + grace + 1)  # as once the grace has passed
    after = _store_bytes(mb.store, user)
    return {
        "adds": adds, "seconds": round(seconds, 1), "grace_seconds": grace,
        "store_bytes_within_grace": before, "store_bytes_after_grace": after,
        "bytes_per_memory_within_grace": round(before["total"] / adds), "bytes_per_memory": round(after["total"] / adds),
        "goal_bytes_per_memory": 10_000,
    }


def _seed(mb: Membucket, user: str, n: int) -> None:
    ctx = mb.context(user)
    emb = RandomEmbedder()
    for start in range(0, n, 1000):
        texts = [f"seed memory {i} of {user} about topic {i % 211}" for i in range(start, min(n, start + 1000))]
        ops.add_batch(ctx, [ops.NewMemory(text=t, vector=v) for t, v in zip(texts, emb.embed(texts), strict=True)])


def bytes_per_add(root: Path, base: int, measured: int) -> tuple[dict[str, Any], str]:
    """Returns the figures and the directory store's URL (the namespace ``big`` at ``base`` memories)."""
    user = "big"
    url = str(root / "bucket-100k")
    seeder = _mb(url, root / "cseed", compact_after=0)
    t = time.perf_counter()
    _seed(seeder, user, base)
    first = seeder.compact(user, gc=False)
    seed_s = time.perf_counter() - t
    counting = CountingStore(open_store(url))
    mb = _mb(url, root / "cadds", store=counting)  # default compaction settings
    ctx = mb.context(user)
    ops.search(ctx, "warm up")  # load the replica outside the count
    counting.put_bytes = counting.puts = 0
    t = time.perf_counter()
    for i in range(measured):
        ops.add(ctx, f"added {i} into a namespace of {base}")
    add_s = time.perf_counter() - t
    keys = NamespaceKeys(user)
    manifest = read_manifest(counting, read_pointer(counting, keys).dir)
    return {
        "base": base, "measured_adds": measured, "seed_seconds": round(seed_s, 1), "adds_seconds": round(add_s, 1),
        "base_checkpoint_upload_bytes": first.bytes_uploaded,
        "bytes_put": counting.put_bytes, "puts": counting.puts,
        "bytes_per_add": round(counting.put_bytes / measured), "goal_bytes_per_add": 20_000,
        "checkpoint_bytes": manifest.data_bytes,
        "segments": {t: len(s) for t, s in manifest.tables.items()},
        "store_bytes": _store_bytes(counting, user),
    }, url


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _cold(url: str, cache: Path, user: str, endpoint: str | None = None, repeat: int = 3) -> dict[str, Any]:
    """First dense and first hybrid search of a new instance with an empty cache, ``repeat`` times
    each: the median, every run, and this process's CPU seconds (all threads) per run."""
    q = RandomEmbedder().embed(["a cold query"])[0]
    runs: dict[str, list[tuple[float, float]]] = {"dense": [], "hybrid": []}
    for i in range(repeat):
        for kind in runs:
            mb = _mb(url, cache / f"{kind}-{i}", endpoint=endpoint)
            t, c = time.perf_counter(), _cpu()
            if kind == "dense":
                ops.search_vector(mb.context(user), q, limit=10)
            else:
                ops.search(mb.context(user), "topic 17 memory", limit=10)
            runs[kind].append((round((time.perf_counter() - t) * 1000, 1), round(_cpu() - c, 2)))
            mb.registry.close()  # free the replica (~0.5 GB at 100k) before the next run
    out: dict[str, Any] = {}
    for kind, got in runs.items():
        out[f"first_{kind}_search_ms"] = statistics.median(ms for ms, _ in got)
        out[f"first_{kind}_search_runs_ms"] = [ms for ms, _ in got]
        out[f"first_{kind}_search_cpu_s"] = [cpu for _, cpu in got]
    return out


def cold_start(url: str, root: Path, user: str, backends: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "local" in backends:
        out["local"] = _cold(url, root / "cold-local", user) | {"goal_ms": 1500}
    if "moto" in backends:
        import boto3

        with moto_server() as endpoint:
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                os.environ.setdefault(name, "bench")
            os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
            dst = open_store("s3://bench/mb", endpoint_url=endpoint)
            src = open_store(url)
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda i: dst.put(i.key, src.get(i.key).body), list(src.list(f"ns/{user}/"))))
            out["moto"] = _cold("s3://bench/mb", root / "cold-moto", user, endpoint) | {"goal_ms": 3000}
    return out


def run(adds: int, base: int, measured: int, backends: list[str], out: str | None) -> dict[str, Any]:
    load = os.getloadavg()
    results: dict[str, Any] = {"cpus": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load]}
    with tempfile.TemporaryDirectory(prefix="mb-storage-") as tmp:
        root = Path(tmp)
        if adds:
            results["bytes_per_memory"] = r = bytes_per_memory(root, adds)
            console.print(f"after {adds} single adds: {r['bytes_per_memory']} B/memory after the grace "
                          f"({r['bytes_per_memory_within_grace']} B within it); goal <= 10 KB")
        if base:
            results["bytes_per_add"], url = bytes_per_add(root, base, measured)
            r = results["bytes_per_add"]
            console.print(f"{measured} single adds into {base}: {r['bytes_per_add']} B PUT per add; goal <= 20 KB")
            results["cold_start"] = cold_start(url, root, "big", backends)
            for backend, c in results["cold_start"].items():
                console.print(f"cold start at {base} on {backend}: dense {c['first_dense_search_ms']:.0f} ms, "
                              f"hybrid {c['first_hybrid_search_ms']:.0f} ms (goal {c['goal_ms']} ms)")
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
        console.print(f"wrote {out}")
    return results
