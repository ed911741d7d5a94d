"""``membucket bench backup``: a bucket backup of many small namespaces, then incremental runs.

Each namespace gets ``memories`` memories (random unit vectors: one batch, compacted into a
checkpoint, then single adds on top), so a backup copies log entries, checkpoint files and
tokens. Measured per backend: the first (full) run, a second run with nothing new, a third
after one new commit in a tenth of the namespaces, then verify and a full restore into an
empty store. On moto both buckets share one endpoint, so checkpoint files are copied server-side.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from membucket import ops
from membucket.auth import TokenStore
from membucket.backup import BackupTarget, restore, take_backup, verify_backup
from membucket.client import Membucket
from membucket.engine.namespace import ReplicaRegistry
from membucket.settings import Settings
from membucket.store import open_store
from rich.console import Console
from rich.table import Table

from .common import RandomEmbedder, moto_server

__all__ = ["run"]

console = Console(stderr=True)


def _seed(store_url: str, endpoint: str | None, cache: Path, namespaces: int, memories: int) -> None:
    mb = Membucket(Settings(store=store_url, cache_dir=str(cache), endpoint_url=endpoint, compact_after=0),
                   embedder=RandomEmbedder(64), registry=ReplicaRegistry(max_replicas=8))
    emb = RandomEmbedder(64)
    tail = max(1, memories // 4)

    def one(i: int) -> None:
        user = f"user{i:03d}"
        ctx = mb.context(user, app="bench")
        texts = [f"memory {j} of {user}" for j in range(memories - tail)]
        ops.add_batch(ctx, [ops.NewMemory(text=t, vector=v) for t, v in zip(texts, emb.embed(texts))])
        mb.compact(user, gc=False)
        for j in range(memories - tail, memories):
            ops.add(ctx, f"memory {j} of {user}, added after the checkpoint", infer=False)
        TokenStore(mb.store).create(user, "bench", ["write"])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(namespaces)))


def _touch(store_url: str, endpoint: str | None, cache: Path, users: list[str]) -> None:
    mb = Membucket(Settings(store=store_url, cache_dir=str(cache), endpoint_url=endpoint, compact_after=0),
                   embedder=RandomEmbedder(64), registry=ReplicaRegistry(max_replicas=8))
    for user in users:
        ops.add(mb.context(user, app="bench"), f"one more memory of {user}", infer=False)


def _timed_backup(src, target) -> dict[str, Any]:
    start = time.perf_counter()
    r = take_backup(src, target.root)
    return {"seconds": round(time.perf_counter() - start, 3), "copied": r.copied, "skipped": r.skipped,
            "server_side": r.server_side, "bytes_copied": r.bytes_copied, "objects": r.objects, "complete": r.id is not None}


def _measure(src_url: str, bak_url: str, restore_url: str, endpoint: str | None, root: Path, namespaces: int, memories: int) -> dict:
    start = time.perf_counter()
    _seed(src_url, endpoint, root / "seed-cache", namespaces, memories)
    seeded = round(time.perf_counter() - start, 3)
    opts = {"endpoint_url": endpoint}
    src = open_store(src_url, **opts)
    target = BackupTarget.open(bak_url, **opts)
    full = _timed_backup(src, target)
    nothing_new = _timed_backup(src, target)
    _touch(src_url, endpoint, root / "touch-cache", [f"user{i:03d}" for i in range(0, namespaces, 10)])
    some_new = _timed_backup(src, target)
    start = time.perf_counter()
    ok = verify_backup(target.root, cache_dir=root / "verify-cache").ok
    verify_s = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    restore(open_store(restore_url, **opts), target.root, cache_dir=root / "restore-cache")
    restore_s = round(time.perf_counter() - start, 3)
    return {"namespaces": namespaces, "memories_each": memories, "seed_seconds": seeded, "full": full,
            "nothing_new": nothing_new, "tenth_touched": some_new, "verify": {"seconds": verify_s, "ok": ok},
            "restore_all": {"seconds": restore_s}}


def run(namespaces: int = 100, memories: int = 20, backends: list[str] | None = None, out: str | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"cpus": os.cpu_count(), "backends": {}}
    for backend in backends or ["local", "moto"]:
        with tempfile.TemporaryDirectory(prefix="mb-bench-backup-") as tmp:
            root = Path(tmp)
            if backend == "local":
                row = _measure(str(root / "bucket"), str(root / "backups"), str(root / "restored"), None, root, namespaces, memories)
            elif backend == "moto":
                import boto3

                with moto_server() as endpoint:
                    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
                    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
                    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
                    s3 = boto3.client("s3", endpoint_url=endpoint)
                    for bucket in ("bench", "bench-backup", "bench-restore"):
                        s3.create_bucket(Bucket=bucket)
                    row = _measure("s3://bench/mb", "s3://bench-backup/mb", "s3://bench-restore/mb", endpoint, root, namespaces, memories)
            else:
                raise ValueError(f"unknown backend {backend!r}; use local or moto")
        results["backends"][backend] = row
        _print(backend, row)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
        console.print(f"wrote {out}")
    return results


def _print(backend: str, row: dict) -> None:
    table = Table(title=f"backup benchmark: {backend}, {row['namespaces']} namespaces x {row['memories_each']} memories")
    for col in ("run", "seconds", "copied", "skipped", "server-side", "MB copied"):
        table.add_column(col)
    for name in ("full", "nothing_new", "tenth_touched"):
        r = row[name]
        table.add_row(name, f"{r['seconds']:.2f}", str(r["copied"]), str(r["skipped"]), str(r["server_side"]), f"{r['bytes_copied'] / 1e6:.1f}")
    console.print(table)
    console.print(f"verify {row['verify']['seconds']:.2f} s (ok={row['verify']['ok']}), restore all {row['restore_all']['seconds']:.2f} s")
