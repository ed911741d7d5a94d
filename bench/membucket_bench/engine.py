"""``membucket bench engine``: search/add latency, concurrent commits, cold start, checkpoint size.

Vectors are random unit vectors (RandomEmbedder), so the figures are the engine's alone: sync,
DuckDB, FAISS and the store. Each size gets a fresh namespace seeded through the real batch-add
path and compacted, as a long-lived namespace would be.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from membucket import ops
from membucket.client import Membucket
from membucket.engine.checkpoint import read_pointer
from membucket.engine.namespace import ReplicaRegistry
from membucket.settings import Settings
from rich.console import Console
from rich.table import Table

from .common import RandomEmbedder, moto_server, percentiles

__all__ = ["run"]

console = Console(stderr=True)


def _mb(store_url: str, cache: Path, endpoint: str | None, **kw) -> Membucket:
    s = Settings(store=store_url, cache_dir=str(cache), endpoint_url=endpoint, compact_after=0, max_batch=1000, **kw)
    return Membucket(s, embedder=RandomEmbedder(), registry=ReplicaRegistry())


def _seed(mb: Membucket, user: str, n: int) -> None:
    ctx = mb.context(user)
    emb = RandomEmbedder()
    for start in range(0, n, 1000):
        texts = [f"seed memory {i} of {user}" for i in range(start, min(n, start + 1000))]
        vecs = emb.embed(texts)
        ops.add_batch(ctx, [ops.NewMemory(text=t, vector=v) for t, v in zip(texts, vecs)])
    mb.compact(user, gc=False)


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def _writer(store_url, endpoint, cache, user, k, barrier, out):
    mb = _mb(store_url, Path(cache), endpoint)
    ctx = mb.context(user, app=f"w{os.getpid()}")
    ops.search(ctx, "warm up")  # creates the app and warms the replica outside the timed window
    barrier.wait()
    t0 = time.perf_counter()
    latencies = []
    for i in range(k):
        latencies.append(_timed(lambda i=i: ops.add(ctx, f"concurrent {os.getpid()} {i}")))
    out.put((t0, time.perf_counter(), latencies))


def _concurrent_commits(store_url: str, endpoint: str | None, root: Path, writers: int, k: int = 40) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers), ctx.Queue()
    user = f"conc-{int(time.time() * 1000)}"
    procs = [ctx.Process(target=_writer, args=(store_url, endpoint, str(root / f"wc{i}"), user, k, barrier, out)) for i in range(writers)]
    for p in procs:
        p.start()
    spans = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    wall = max(e for _, e, _ in spans) - min(s for s, _, _ in spans)
    # Fairness: how long the unluckiest commits waited while others kept winning.
    latency = percentiles([ms for *_, lat in spans for ms in lat])
    latency["max"] = round(max(ms for *_, lat in spans for ms in lat), 1)
    return {"writers": writers, "commits": writers * k, "seconds": round(wall, 3), "commits_per_s": round(writers * k / wall, 1),
            "commit_ms": latency}


def _measure(store_url: str, endpoint: str | None, root: Path, n: int, queries: int) -> dict[str, Any]:
    user = f"bench-{n}"
    mb = _mb(store_url, root / f"cache-{n}", endpoint)
    t = time.perf_counter()
    _seed(mb, user, n)
    seed_s = time.perf_counter() - t
    owner = mb.context(user)
    rng = np.random.default_rng(0)
    qs = RandomEmbedder().embed([f"query {i}" for i in range(queries)])
    ops.search_vector(owner, qs[0])  # warm
    search = [_timed(lambda q=q: ops.search_vector(owner, q, limit=10)) for q in qs]
    app = mb.context(user, app="bench-app")
    ops.search_vector(app, qs[0])
    search_app = [_timed(lambda q=q: ops.search_vector(app, q, limit=10)) for q in qs[: max(20, queries // 4)]]
    adds = [_timed(lambda i=i: ops.add(owner, f"new memory {i} {rng.integers(1 << 60)}")) for i in range(max(20, queries // 4))]
    # cold start: a new process-like instance with an empty cache directory
    cold_cache = root / f"cold-{n}"
    cold = _mb(store_url, cold_cache, endpoint)
    cold_ms = _timed(lambda: ops.search_vector(cold.context(user), qs[1], limit=10))
    ns = mb.namespace(user)
    p = read_pointer(mb.store, ns.keys)
    if p.format == 2:  # segments + manifest: no FAISS file (engine/segments.py)
        doc = json.loads(mb.store.get(p.dir + "manifest.json").body)
        meta = {"db_size": doc["bytes"], "index_size": 0}
    else:
        meta = json.loads(mb.store.get(p.dir + "meta.json").body)
    shutil.rmtree(cold_cache, ignore_errors=True)
    return {
        "n": n,
        "seed_seconds": round(seed_s, 2),
        "search_ms": percentiles(search),
        "search_with_access_log_ms": percentiles(search_app),
        "add_ms": percentiles(adds),
        "cold_start_first_result_ms": round(cold_ms, 1),
        "checkpoint_bytes": {"db": meta["db_size"], "index": meta["index_size"], "total": meta["db_size"] + meta["index_size"]},
    }


def _seed_log(store_url: str, root: Path, user: str, entries: int, batched: int = 0) -> None:
    """A namespace of ``batched`` memories added in batches, then ``entries`` single-entry commits,
    compacted every 500 and kept (as with the default 24 h retention), on the directory store."""
    mb = Membucket(
        Settings(store=store_url, cache_dir=str(root / f"seedlog-{user}"), compact_after=500, max_batch=1000),
        embedder=RandomEmbedder(),
        registry=ReplicaRegistry(),
    )
    ctx = mb.context(user)
    emb = RandomEmbedder()
    for start in range(0, batched, 1000):  # the same data in a few batch entries
        texts = [f"batched memory {i} of {user}" for i in range(start, min(batched, start + 1000))]
        ops.add_batch(ctx, [ops.NewMemory(text=t, vector=v) for t, v in zip(texts, emb.embed(texts), strict=True)])
    for i in range(entries):
        text = f"log entry {i} of {user}"
        ops.add_batch(ctx, [ops.NewMemory(text=text, vector=emb.embed([text])[0])])


def _copy_namespace(src_url: str, dst: Any, user: str) -> int:
    """Upload one namespace from a directory store into ``dst`` (8 PUTs at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    from membucket.store import open_store

    src = open_store(src_url)
    infos = list(src.list(f"ns/{user}/"))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: dst.put(i.key, src.get(i.key).body), infos))
    return len(infos)


def _log_length(store_url: str, endpoint: str | None, root: Path, lengths: list[int], queries: int) -> dict[str, Any]:
    """add and search p50 with a long log of single-entry commits vs a short one (issue 12), the
    namespaces holding the same number of memories: each request's sync must cost O(new
    entries), not O(entries kept in the log)."""
    rows: dict[str, Any] = {}
    for n in lengths:
        user = f"loglen-{n}"
        seed_url = str(root / "seed-bucket")
        t = time.perf_counter()
        _seed_log(seed_url, root, user, n, batched=max(lengths) - n)  # same data, different history
        mb = _mb(store_url, root / f"cache-log-{n}", endpoint)
        if store_url != seed_url:
            _copy_namespace(seed_url, mb.store, user)
        seed_s = time.perf_counter() - t
        owner = mb.context(user)
        qs = RandomEmbedder().embed([f"query {i}" for i in range(queries)])
        ops.search_vector(owner, qs[0])  # warm: checkpoint + tail
        search = [_timed(lambda q=q, owner=owner: ops.search_vector(owner, q, limit=10)) for q in qs]
        adds = [_timed(lambda i=i, n=n, owner=owner: ops.add(owner, f"appended {i} after a log of {n}")) for i in range(max(20, queries // 2))]
        log_keys = sum(1 for _ in mb.store.list(f"ns/{user}/log/"))
        rows[str(n)] = {"log_entries_in_store": log_keys, "seed_seconds": round(seed_s, 1),
                        "search_ms": percentiles(search), "add_ms": percentiles(adds)}
    if len(lengths) >= 2:
        lo, hi = rows[str(min(lengths))], rows[str(max(lengths))]
        rows["ratio_long_to_short"] = {
            "search_p50": round(hi["search_ms"]["p50"] / lo["search_ms"]["p50"], 2),
            "add_p50": round(hi["add_ms"]["p50"] / lo["add_ms"]["p50"], 2),
        }
    return rows


def run(
    sizes: list[int], backends: list[str], out: str | None, queries: int = 200, writers: int = 8,
    log_lengths: list[int] | None = None,
) -> dict[str, Any]:
    results: dict[str, Any] = {"sizes": sizes, "log_lengths": log_lengths or [], "cpus": os.cpu_count(), "backends": {}}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp:
            root = Path(tmp)
            if backend == "local":
                rows = [_measure(str(root / "bucket"), None, root, n, queries) for n in sizes]
                loglen = _log_length(str(root / "bucket"), None, root, log_lengths or [], queries)
                conc = _concurrent_commits(str(root / "bucket"), None, root, writers)
            elif backend == "moto":
                import boto3

                with moto_server() as endpoint:
                    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
                    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
                    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
                    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
                    rows = [_measure("s3://bench/mb", endpoint, root, n, queries) for n in sizes]
                    loglen = _log_length("s3://bench/mb", endpoint, root, log_lengths or [], queries)
                    conc = _concurrent_commits("s3://bench/mb", endpoint, root, writers)
            else:
                raise ValueError(f"unknown backend {backend!r}; use local or moto")
        results["backends"][backend] = {"sizes": rows, "log_length": loglen, "concurrent_commits": conc}
        _print(backend, rows, conc, loglen)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
        console.print(f"wrote {out}")
    return results


def _print(backend: str, rows: list[dict], conc: dict, loglen: dict | None = None) -> None:
    table = Table(title=f"engine benchmark: {backend}")
    for col in ("n", "search p50/p95 ms", "search+log p50 ms", "add p50/p95 ms", "cold start ms", "checkpoint MB"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["n"]),
            f"{r['search_ms']['p50']:.2f} / {r['search_ms']['p95']:.2f}",
            f"{r['search_with_access_log_ms']['p50']:.2f}",
            f"{r['add_ms']['p50']:.2f} / {r['add_ms']['p95']:.2f}",
            f"{r['cold_start_first_result_ms']:.0f}",
            f"{r['checkpoint_bytes']['total'] / 1e6:.1f}",
        )
    console.print(table)
    for n, r in (loglen or {}).items():
        if n.isdigit():
            console.print(f"{backend}: log of {n} single commits: search p50 {r['search_ms']['p50']:.2f} ms, add p50 {r['add_ms']['p50']:.2f} ms")
    if loglen and "ratio_long_to_short" in loglen:
        console.print(f"{backend}: long/short log ratio {loglen['ratio_long_to_short']}")
    console.print(
        f"{backend}: {conc['writers']} writers, {conc['commits']} commits in {conc['seconds']} s = {conc['commits_per_s']} commits/s, "
        f"worst wait {conc['commit_ms']['max']:.0f} ms"
    )
