"""``membucket bench engine-load``: several servers on one bucket, and many writers on one namespace.

Issue 12's load figures, embedding excluded (RandomEmbedder, no categorizer):

- ``two_servers``: S servers (``membucket serve``'s app, each in its own process with its own
  replica cache) on one bucket on moto's S3 server, C HTTP clients per server doing a mix of
  REST adds and searches on one namespace (``--s3 localstack``: LocalStack's S3 instead). Reports p50/p99/max latency, each server's first
  answer, lost writes (every acknowledged add must be in a fresh replica afterwards) and
  checkpoints written twice for one generation (the bucket's ``checkpoints/`` scanned during
  and after the run). Goals: p99 <= 3 s, max <= 10 s, 0 lost, no double checkpoint.
- ``eight_writers``: W writer processes committing single adds into one namespace, on the
  directory store and on moto's server (as ``bench engine``'s concurrent commits, but a commit
  answered 503 is counted, not fatal). Goals: >= 141 commits/s (directory), >= 27/s (moto),
  worst wait <= 2 s (directory).
- ``warm_request_calls``: store calls (GET/HEAD/PUT/LIST) one warm search and one warm add
  cost on an up-to-date replica (hot_path.py).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import random
import re
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from .common import RandomEmbedder, moto_server
from .hot_path import warm_request_calls
from .http import _free_port, _sentences, _wait
from .localstack import localstack

__all__ = ["run", "GOALS"]

console = Console(stderr=True)
USER = "load"
GOALS = {
    "two_servers": {"p99_ms": 3000, "max_ms": 10000, "lost": 0, "double_checkpoints": 0},
    "eight_writers": {"local_commits_per_s": 141, "moto_commits_per_s": 27, "local_worst_wait_ms": 2000},
}
_CKPT = re.compile(r"checkpoints/(\d+)-([^/]+)/")


def _aws_env() -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"), ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(name, value)


def _membucket(store_url: str, endpoint: str | None, cache: str, **settings: Any):
    from membucket.client import Membucket
    from membucket.engine.namespace import ReplicaRegistry
    from membucket.settings import Settings

    s = Settings(store=store_url, endpoint_url=endpoint, cache_dir=cache, user=USER, rate_limit_per_minute=0, max_batch=1000, **settings)
    return Membucket(s, embedder=RandomEmbedder(), categorizer=None, registry=ReplicaRegistry())


def _server_main(store_url: str, endpoint: str | None, cache: str, port: int, compact_after: int) -> None:
    """One server process: ``membucket serve``'s app and engine, with the random embedder."""
    _aws_env()
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (the banner, once per server, is noise here)
    from membucket.http.serve import run

    run(_membucket(store_url, endpoint, cache, compact_after=compact_after), "127.0.0.1", port, log_level="warning")


def _seed(store_url: str, endpoint: str | None, root: Path, n: int) -> None:
    from membucket import ops

    mb = _membucket(store_url, endpoint, str(root / "seed-cache"), compact_after=0)
    ctx = mb.context(USER)
    texts = _sentences(n, seed=7)
    for i in range(0, n, 1000):
        chunk = texts[i : i + 1000]
        ops.add_batch(ctx, [ops.NewMemory(text=t, vector=v) for t, v in zip(chunk, mb.embedder.embed(chunk), strict=True)])
    if n:
        mb.compact(USER, gc=False)


class _Scanner(threading.Thread):
    """Lists the namespace's ``checkpoints/`` every ``every`` seconds: a checkpoint GC removes
    before the run ends still counts."""

    def __init__(self, store: Any, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.store, self.every = store, every
        self.seen: set[tuple[int, str]] = set()
        self.stop = threading.Event()

    def scan(self) -> None:
        for info in self.store.list(f"ns/{USER}/checkpoints/"):
            m = _CKPT.search(info.key)
            if m:
                self.seen.add((int(m.group(1)), m.group(2)))

    def run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                self.scan()
            except Exception as exc:  # a scan that fails is retried; the final scan must work
                console.print(f"checkpoint scan failed: {exc}")


def double_checkpoints(seen: set[tuple[int, str]], compact_after: int) -> dict[str, Any]:
    """Checkpoints of one generation written by two writers: the same sequence twice, or two
    checkpoints closer than half the compaction threshold (2000/2001 in issue 12)."""
    seqs = sorted(seq for seq, _ in seen)
    same = sorted({s for s in seqs if seqs.count(s) > 1})
    close = [[a, b] for a, b in zip(seqs, seqs[1:], strict=False) if a != b and b - a < max(1, compact_after // 2)]
    return {"checkpoint_seqs": seqs, "same_seq": same, "close_pairs": close, "double_checkpoints": len(same) + len(close)}


def _client(base: str, server: int, n: int, add_share: float, seed: int, out: list[dict[str, Any]]) -> None:
    rng = random.Random(seed)
    queries = _sentences(64, seed=seed + 1)
    with httpx.Client(base_url=base, timeout=120) as c:
        for i in range(n):
            kind = "add" if rng.random() < add_share else "search"
            if kind == "add":
                text = f"{queries[i % len(queries)]} note {uuid.uuid4().hex[:12]}"
                req: dict[str, Any] = {"method": "POST", "url": "/api/v1/memories", "json": {"text": text}}
            else:
                req = {"method": "POST", "url": "/api/v1/memories/search", "json": {"query": queries[i % len(queries)], "limit": 10}}
            t = time.perf_counter()
            try:
                r = c.request(**req)
                status, body = r.status_code, (r.json() if r.headers.get("content-type", "").startswith("application/json") else None)
            except httpx.HTTPError as exc:
                status, body = 0, {"error": repr(exc)}
            ms = (time.perf_counter() - t) * 1000
            ids = [e["id"] for e in (body or {}).get("results", []) if e.get("event") == "ADD"] if kind == "add" and status == 201 else []
            out.append({"server": server, "kind": kind, "ms": ms, "status": status, "ids": ids, "t": t})


def _pcts(samples: list[float]) -> dict[str, float]:
    import numpy as np

    if not samples:
        return {"n": 0}
    a = np.asarray(samples)
    return {"n": len(a), "p50": round(float(np.percentile(a, 50)), 1), "p99": round(float(np.percentile(a, 99)), 1), "max": round(float(a.max()), 1)}


def two_servers(
    store_url: str, endpoint: str | None, root: Path, *, servers: int = 2, clients: int = 8, requests: int = 150,
    add_share: float = 0.3, seed_n: int = 2000, compact_after: int = 500,
) -> dict[str, Any]:
    """S servers x C clients on one namespace; see the module docstring."""
    from membucket.store import open_store

    t = time.perf_counter()
    _seed(store_url, endpoint, root, seed_n)
    seed_s = time.perf_counter() - t
    store = open_store(store_url, endpoint_url=endpoint)
    scanner = _Scanner(store)
    scanner.scan()
    ctx = mp.get_context("spawn")
    ports = [_free_port() for _ in range(servers)]
    procs = [
        ctx.Process(target=_server_main, args=(store_url, endpoint, str(root / f"server{i}"), port, compact_after), daemon=True)
        for i, port in enumerate(ports)
    ]
    for p in procs:
        p.start()
    results: list[dict[str, Any]] = []
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            _wait(base, timeout=120)
        first = []
        for base in bases:  # a fresh server's first answer: a cold replica of the seeded namespace
            t = time.perf_counter()
            httpx.post(f"{base}/api/v1/memories/search", json={"query": "first", "limit": 10}, timeout=120).raise_for_status()
            first.append(round((time.perf_counter() - t) * 1000, 1))
        scanner.start()
        threads = [
            threading.Thread(target=_client, args=(bases[s], s, requests, add_share, 1000 * s + c, results))
            for s in range(servers) for c in range(clients)
        ]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
    finally:
        scanner.stop.set()
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(timeout=30)
    scanner.scan()
    acked = [i for r in results for i in r["ids"]]
    check = _membucket(store_url, endpoint, str(root / "check-cache"))
    with check.namespace(USER).read() as rep:
        present = {row[0] for row in rep.con.execute("SELECT id FROM memories").fetchall()}
    lost = sorted(set(acked) - present)
    answered = results  # every answer counts, a 503 after the commit deadline too (errors says how many)
    errors: dict[str, int] = {}
    for r in results:
        if r["status"] not in (200, 201):
            errors[str(r["status"])] = errors.get(str(r["status"]), 0) + 1
    return {
        "servers": servers, "clients_per_server": clients, "requests_per_client": requests, "add_share": add_share,
        "seed_memories": seed_n, "seed_seconds": round(seed_s, 1), "compact_after": compact_after,
        "seconds": round(wall, 1), "requests_per_s": round(len(results) / wall, 1),
        "first_answer_ms": first,
        "latency_ms": _pcts([r["ms"] for r in answered]),
        "add_ms": _pcts([r["ms"] for r in answered if r["kind"] == "add"]),
        "search_ms": _pcts([r["ms"] for r in answered if r["kind"] == "search"]),
        "per_server_ms": {str(s): _pcts([r["ms"] for r in answered if r["server"] == s]) for s in range(servers)},
        "slowest": [  # do slow requests come in groups, one server at a time? (issue 12 saw that)
            {"server": r["server"], "kind": r["kind"], "at_s": round(r["t"] - t0, 2), "ms": round(r["ms"], 1)}
            for r in sorted(results, key=lambda r: -r["ms"])[:12]
        ],
        "errors": errors, "acknowledged_adds": len(acked), "lost": len(lost), "lost_ids": lost[:20],
        **double_checkpoints(scanner.seen, compact_after),
    }


def _writer(store_url: str, endpoint: str | None, cache: str, user: str, k: int, barrier: Any, out: Any) -> None:
    _aws_env()
    from membucket import ops
    from membucket.errors import CommitContention, StoreUnavailable

    mb = _membucket(store_url, endpoint, cache, compact_after=0)
    ctx = mb.context(user)
    ops.search(ctx, "warm up")  # loads the replica outside the timed window
    barrier.wait(timeout=300)
    t0, ok, failed = time.perf_counter(), [], []
    for i in range(k):
        t = time.perf_counter()
        try:
            ops.add(ctx, f"concurrent {os.getpid()} {i}")
            ok.append((time.perf_counter() - t) * 1000)
        except (CommitContention, StoreUnavailable):
            failed.append((time.perf_counter() - t) * 1000)
    out.put((t0, time.perf_counter(), ok, failed))


def eight_writers(store_url: str, endpoint: str | None, root: Path, writers: int = 8, k: int = 40, timeout: float = 900) -> dict[str, Any]:
    """W processes x k single adds into one namespace: commits/s and the worst wait."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers), ctx.Queue()
    user = f"writers-{uuid.uuid4().hex[:8]}"
    procs = [ctx.Process(target=_writer, args=(store_url, endpoint, str(root / f"w{i}"), user, k, barrier, out), daemon=True) for i in range(writers)]
    for p in procs:
        p.start()
    spans = []
    deadline = time.monotonic() + timeout
    try:
        for _ in procs:
            spans.append(out.get(timeout=max(1.0, deadline - time.monotonic())))
    except Exception as exc:  # a writer died or the run overran: report what finished
        console.print(f"writers: {len(spans)} of {writers} finished ({exc!r})")
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    if not spans:
        return {"writers": writers, "finished": 0}
    wall = max(e for _, e, _, _ in spans) - min(s for s, _, _, _ in spans)
    ok = [ms for *_, lat, _ in spans for ms in lat]
    failed = [ms for *_, f in spans for ms in f]
    return {
        "writers": writers, "finished": len(spans), "commits": len(ok), "failed_503": len(failed), "seconds": round(wall, 2),
        "commits_per_s": round(len(ok) / wall, 1), "commit_ms": {**_pcts(ok), "worst_wait": round(max(ok + failed), 1)},
    }


def _verdict(results: dict[str, Any]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    g = GOALS["two_servers"]
    two = results.get("two_servers")
    if two and two["latency_ms"].get("n"):
        out["two_servers_p99"] = two["latency_ms"]["p99"] <= g["p99_ms"]
        out["two_servers_max"] = two["latency_ms"]["max"] <= g["max_ms"]
        out["two_servers_lost"] = two["lost"] == g["lost"]
        out["two_servers_no_double_checkpoint"] = two["double_checkpoints"] == 0
    w = GOALS["eight_writers"]
    for backend, row in results.get("eight_writers", {}).items():
        if not row.get("commits"):
            continue
        out[f"writers_{backend}_commits_per_s"] = row["commits_per_s"] >= w[f"{backend}_commits_per_s"]
        if backend == "local":
            out["writers_local_worst_wait"] = row["commit_ms"]["worst_wait"] <= w["local_worst_wait_ms"]
    return out


def run(
    out: str | None, *, parts: list[str], backends: list[str], servers: int = 2, clients: int = 8, requests: int = 150,
    add_share: float = 0.3, seed_n: int = 2000, compact_after: int = 500, writers: int = 8, commits: int = 40,
    command: str | None = None, s3: str = "moto",
) -> dict[str, Any]:
    _aws_env()
    results: dict[str, Any] = {"command": command, "cpus": os.cpu_count(), "load_average_start": list(os.getloadavg()), "goals": GOALS}
    with tempfile.TemporaryDirectory(prefix="mb-load-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        endpoint = stack.enter_context(moto_server())
        _bucket(endpoint)
        urls = {"local": (str(root / "bucket"), None), "moto": ("s3://load/mb", endpoint)}
        if "servers" in parts:
            s3_url = endpoint if s3 == "moto" else stack.enter_context(localstack(root / "localstack"))
            if s3 != "moto":
                _bucket(s3_url)
            results["two_servers_s3"] = s3
            console.print(f"{servers} servers x {clients} clients on {s3}'s S3 ...")
            results["two_servers"] = two_servers(
                "s3://load/two", s3_url, root / "two", servers=servers, clients=clients, requests=requests,
                add_share=add_share, seed_n=seed_n, compact_after=compact_after,
            )
            _save(results, out)
        if "writers" in parts:
            results["eight_writers"] = {}
            for b in backends:
                console.print(f"{writers} writers x {commits} commits on {b} ...")
                results["eight_writers"][b] = eight_writers(*urls[b], root / f"writers-{b}", writers, commits)
                _save(results, out)
        if "hot" in parts:
            results["warm_request_calls"] = {b: warm_request_calls(*urls[b], root / f"hot-{b}") for b in backends}
    results["load_average_end"] = list(os.getloadavg())
    results["verdict"] = _verdict(results)
    _print(results)
    _save(results, out)
    if out:
        console.print(f"wrote {out}")
    return results


def _bucket(endpoint: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="load")


def _save(results: dict[str, Any], out: str | None) -> None:
    """Written after each part too, so a run cut short keeps what it measured."""
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))


def _print(results: dict[str, Any]) -> None:
    two = results.get("two_servers")
    if two:
        lat = two["latency_ms"]
        console.print(
            f"two servers: {lat.get('n', 0)} ok requests in {two['seconds']} s, p50 {lat.get('p50')} ms, p99 {lat.get('p99')} ms, "
            f"max {lat.get('max')} ms; first answers {two['first_answer_ms']} ms; errors {two['errors']}; "
            f"lost {two['lost']} of {two['acknowledged_adds']}; checkpoints {two['checkpoint_seqs']} (double: {two['double_checkpoints']})"
        )
    for b, row in results.get("eight_writers", {}).items():
        if row.get("commits"):
            console.print(
                f"{b}: {row['writers']} writers, {row['commits']} commits ({row['failed_503']} answered 503), "
                f"{row['commits_per_s']} commits/s, worst wait {row['commit_ms']['worst_wait']:.0f} ms"
            )
    for b, row in results.get("warm_request_calls", {}).items():
        console.print(f"{b}: store calls per warm request {row['per_request']}")
    console.print(f"verdict: {results['verdict']}")
