"""``membucket bench http``: MCP ``search_memory`` and REST search end to end over loopback HTTP.

The server is ``membucket serve`` in its own process, on a fresh directory store seeded with N
memories embedded by the offline model; queries are embedded by the server, as in real use.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from .common import percentiles

__all__ = ["run"]

console = Console(stderr=True)
WORDS = (
    "alice bob carol dave likes prefers visited booked moved works studies coffee tea jazz hiking berlin lisbon "
    "tokyo paris project deadline meeting doctor allergy peanuts birthday sister brother flight hotel python rust "
    "guitar marathon garden recipe budget invoice laptop phone novel movie weekend morning evening friday"
).split()


def _sentences(n: int, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + f" ({i})" for i in range(n)]


def _seed(store: str, cache: str, n: int) -> float:
    from membucket import ops
    from membucket.client import Membucket
    from membucket.settings import Settings

    mb = Membucket(Settings(store=store, cache_dir=cache, max_batch=1000, compact_after=0))
    ctx = mb.context("bench")
    texts = _sentences(n)
    t = time.perf_counter()
    for i in range(0, n, 1000):
        chunk = texts[i : i + 1000]
        ops.add_batch(ctx, [ops.NewMemory(text=x, vector=v) for x, v in zip(chunk, mb.embedder.embed(chunk))])
    mb.compact("bench", gc=False)
    return time.perf_counter() - t


def _timed(client: httpx.Client, method: str, url: str, **kw) -> float:
    t = time.perf_counter()
    r = client.request(method, url, **kw)
    ms = (time.perf_counter() - t) * 1000
    r.raise_for_status()
    return ms


def _concurrent(make_request, clients: int, seconds: float) -> dict[str, Any]:
    stop = time.monotonic() + seconds
    counts = [0] * clients
    lat: list[float] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        with httpx.Client(timeout=60) as c:
            while time.monotonic() < stop:
                ms = make_request(c, counts[i])
                counts[i] += 1
                with lock:
                    lat.append(ms)

    t = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - t
    return {"clients": clients, "requests": sum(counts), "requests_per_s": round(sum(counts) / wall, 1), "latency_ms": percentiles(lat)}


def run(n: int = 10_000, queries: int = 200, clients: int = 8, seconds: float = 15.0, out: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mb-http-") as tmp:
        store, cache = str(Path(tmp) / "bucket"), str(Path(tmp) / "cache")
        console.print(f"seeding {n} memories with the offline embedder ...")
        seed_s = _seed(store, cache, n)
        from membucket.http.serve import is_loopback  # noqa: F401  (import check before spawning)

        port = _free_port()
        env = {**os.environ, "MEMBUCKET_STORE": store, "MEMBUCKET_CACHE_DIR": cache, "MEMBUCKET_USER": "bench", "MEMBUCKET_RATE_LIMIT_PER_MINUTE": "0"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "membucket", "serve", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(base)
            mcp_url = f"{base}/mcp/bench-client/http/bench"
            headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
            qs = _sentences(queries, seed=1)

            def mcp(c: httpx.Client, i: int) -> float:
                args = {"query": qs[i % len(qs)], "limit": 10}
                body = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "search_memory", "arguments": args}}
                return _timed(c, "POST", mcp_url, json=body, headers=headers)

            def rest(c: httpx.Client, i: int) -> float:
                return _timed(c, "POST", f"{base}/api/v1/memories/search", json={"query": qs[i % len(qs)], "limit": 10})

            results: dict[str, Any] = {"n": n, "seed_seconds": round(seed_s, 1), "cpus": os.cpu_count()}
            for name, fn in (("mcp_search_memory", mcp), ("rest_search", rest)):
                with httpx.Client(timeout=60) as c:
                    for i in range(5):
                        fn(c, i)  # warm the replica, the model and the connection
                    seq = [fn(c, i) for i in range(queries)]
                results[name] = {"sequential_ms": percentiles(seq), "concurrent": _concurrent(fn, clients, seconds)}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    for name in ("mcp_search_memory", "rest_search"):
        r = results[name]
        console.print(
            f"{name}: p50 {r['sequential_ms']['p50']:.1f} ms, p95 {r['sequential_ms']['p95']:.1f} ms; "
            f"{clients} clients: {r['concurrent']['requests_per_s']} req/s (p50 {r['concurrent']['latency_ms']['p50']:.1f} ms)"
        )
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
        console.print(f"wrote {out}")
    return results


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not start")
