"""Cold starts that matter: each function's first answer, in a fresh environment, to a real request
on a namespace of ``n`` memories (10k by default) checkpointed in the bucket.

The tour (scenario.py) starts every function once, on whatever request reaches it first, against
a namespace of a few memories. Here each measured request gets a new sandbox (new process, empty
/tmp, so the model and the checkpoint are downloaded again), and the figure is Lambda's: init
(imports, app built at import) plus the first invocation. For MCP there are two: ``initialize``
(what a client waits for on connecting) and, separately, a first ``tools/call search_memory``.

The memories are seeded from the dev venv with random unit vectors (``NewMemory.vector``: the
vectors' values change nothing in a cold start; their count and the checkpoint's size do), then
compacted, so every cold run reads a checkpoint and an empty log tail.
"""

from __future__ import annotations

import statistics
import time

from .scenario import INIT, MCP_HEADERS

__all__ = ["seed_namespace", "measure_cold", "COLD_USER"]

COLD_USER = "cc-cold10k"


def seed_namespace(endpoint: str, store_url: str, n: int, cache_dir: str) -> dict:
    """``n`` memories for COLD_USER, one checkpoint; returns a token and what was made."""
    import numpy as np
    from membucket import Membucket, Settings, ops
    from membucket.auth import TokenStore
    from membucket.engine.namespace import ReplicaRegistry

    start = time.perf_counter()
    mb = Membucket(Settings(store=store_url, endpoint_url=endpoint, cache_dir=cache_dir, compact_after=0, max_batch=1000),
                   registry=ReplicaRegistry())
    ctx = mb.context(COLD_USER)
    ids: list[str] = []
    rng = np.random.default_rng(13)
    step = 1000
    for i in range(0, n, step):
        vectors = rng.standard_normal((min(step, n - i), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids += ops.add_batch(ctx, [ops.NewMemory(text=f"note {i + j}: someone keeps a fact about topic {(i + j) % 97}", vector=v)
                            for j, v in enumerate(vectors)])
    mb.compact(COLD_USER, gc=False)
    token, _ = TokenStore(mb.store).create(COLD_USER, None, ["admin"])
    return {"token": token, "memories": n, "memory_id": ids[0], "seed_s": round(time.perf_counter() - start, 1)}


def _requests(memory_id: str) -> dict[str, list[tuple[str, str, str, object, dict]]]:
    """Per function: (label, method, path, body, headers) of its first real request."""
    search = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "search_memory", "arguments": {"query": "topic 42"}}}
    return {
        "McpFunction": [("initialize", "POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT}, MCP_HEADERS),
                        ("tools/call search_memory", "POST", "/mcp", search, MCP_HEADERS)],
        "SearchFunction": [("POST /api/v1/memories/search", "POST", "/api/v1/memories/search", {"query": "topic 42", "limit": 10}, {})],
        "AddFunction": [("POST /api/v1/memories", "POST", "/api/v1/memories", {"text": "The cold start test drinks mint tea"}, {})],
        "ApiFunction": [("GET /api/v1/memories", "GET", "/api/v1/memories", None, {})],
        "StateFunction": [("POST /api/v1/memories/{id}/state", "POST", f"/api/v1/memories/{memory_id}/state", {"state": "archived"}, {})],
    }


def measure_cold(gw, token: str, memory_id: str, runs: int = 1) -> dict[str, dict]:
    """Per function: the cold first answer (median of ``runs`` fresh sandboxes) to each of its real requests."""
    out: dict[str, dict] = {}
    for fn, requests in _requests(memory_id).items():
        if fn not in gw.stack.functions:
            continue
        rows = []
        for label, method, path, body, headers in requests:
            samples = []
            status = None
            for _ in range(runs):
                gw.stop(fn)  # a new execution environment: new process, empty /tmp
                reply = gw.request(method, path, body, token=token, headers=headers)
                status = reply.status
                if gw.last_cold is not None:
                    samples.append(gw.last_cold)
            gw.stop(fn)
            if status not in (200, 201, 202):
                gw.stats[fn].errors.append(f"cold {label} at {COLD_USER} -> {status}")
            row = {"request": label, "status": status, "runs": len(samples)}
            if samples:
                row["init_s"] = round(statistics.median(s[0] for s in samples), 3)
                row["first_invoke_ms"] = round(statistics.median(s[1] for s in samples), 1)
                row["cold_s"] = round(statistics.median(s[0] + s[1] / 1000 for s in samples), 2)
                # CPU seconds of the same (process time): on a loaded machine wall time is an upper
                # bound, CPU time is close to what the function itself spends (S3 waits excluded)
                row["init_cpu_s"] = round(statistics.median(s[2] for s in samples), 3)
                row["cold_cpu_s"] = round(statistics.median(s[2] + s[3] / 1000 for s in samples), 2)
            rows.append(row)
        out[fn] = {"cold_real_request_s": rows[0].get("cold_s"), "cold_real_request": rows[0]["request"], "cold_requests": rows}
        if fn == "McpFunction" and len(rows) > 1:
            out[fn]["cold_initialize_s"] = rows[0].get("cold_s")
            out[fn]["cold_search_s"] = rows[1].get("cold_s")
            out[fn]["cold_initialize_cpu_s"] = rows[0].get("cold_cpu_s")
            out[fn]["cold_search_cpu_s"] = rows[1].get("cold_cpu_s")
    return out
