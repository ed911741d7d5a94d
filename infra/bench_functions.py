"""Cold and warm invocations of the search, add and MCP functions, at 10k memories, against moto's S3 server.

    python infra/bench_functions.py                       # -> bench/results/functions-inprocess.json
    python infra/bench_functions.py --n 1000 --cold 1     # a quick look

Each cold run is a new process (infra/lambda_driver.py) that imports the function (init: imports
plus the app built at import) and invokes it once, then ``--warm`` more times in the same
process. Two kinds of cold run:

- ``fresh_tmp``: an empty /tmp, as in a new Lambda execution environment: the model (87 MB) and
  the checkpoint are downloaded, then the log tail is applied.
- ``warm_tmp``: /tmp kept from the previous run (model and checkpoint files cached): what a
  process restart inside one environment costs; the checkpoint still loads into memory.

The namespace is compacted before every cold run, so each starts from a checkpoint of all the
memories and an empty log tail (replaying a tail costs one GET per entry on top).

Runtimes: ``lambda`` = python3.12 over the built bundle (.aws-sam/build, or built here with
bundle_size --estimate), bytecode writes off, model fetched from the bucket, boto3 standing in
for the runtime's; ``dev`` = this venv, model from the installed package. The S3 server is
moto in its own process on loopback, so network time is near zero: in AWS add S3 latency
(~10-30 ms per request) and the real download rate for the model and checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_size  # noqa: E402

USER = "bench"
PREFIX = "membucket"

_NAMES = ["Alice", "Bob", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivan", "Jun"]
_VERBS = ["likes", "avoids", "is learning", "bought", "recommends", "forgot", "collects", "plans to visit", "fixed", "reviewed"]
_OBJECTS = ["green tea", "the Lisbon office", "a road bike", "Kotlin", "sourdough bread", "the quarterly report", "jazz vinyl",
            "the staging cluster", "Japanese maples", "a chess opening", "the tax return", "dark roast coffee", "Rust", "the VPN config"]
_WHEN = ["on Mondays", "since 2019", "every winter", "after lunch", "before the offsite", "at the weekend", "twice a month", "last spring"]


def sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(_NAMES)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_WHEN)} (note {seed}-{i})" for i in range(n)]


def seed_bucket(endpoint: str, n: int, work: Path) -> dict:
    import boto3
    from membucket import Membucket, Settings, ops
    from membucket.auth import TokenStore
    from membucket.embed.minilm import locate_model_dir
    from membucket.embed.s3_model import publish_model
    from membucket.engine.namespace import ReplicaRegistry
    from membucket.store import open_store

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="data")
    store = f"s3://data/{PREFIX}"
    publish_model(locate_model_dir(), open_store(f"{store}/models/all-MiniLM-L6-v2", endpoint_url=endpoint))
    mb = Membucket(Settings(store=store, endpoint_url=endpoint, cache_dir=str(work / "seed-cache"), compact_after=0,
                            max_batch=1000), registry=ReplicaRegistry())
    start = time.perf_counter()
    ctx = mb.context(USER)
    texts = sentences(n, 0)
    for i in range(0, n, 1000):
        ops.add_batch(ctx, [ops.NewMemory(text=t) for t in texts[i:i + 1000]])
    result = mb.compact(USER, gc=False)
    token, _ = TokenStore(mb.store).create(USER, None, ["admin"])
    meta = json.loads(mb.store.get(f"ns/{USER}/CHECKPOINT").body)
    sizes = {i.key.rsplit("/", 1)[-1]: i.size for i in mb.store.list(meta["dir"])}
    return {"token": token, "store": store, "seed_seconds": round(time.perf_counter() - start, 1), "checkpoint_seq": result.seq,
            "checkpoint_bytes": sizes}


def run_cold(runtime: dict, fn: str, calls: list[dict], env: dict, cache_dir: Path, work: Path, tag: str) -> dict:
    plan = work / f"{tag}.plan.json"
    result = work / f"{tag}.result.json"
    plan.write_text(json.dumps({"function_dir": runtime["function_dirs"][fn], "result": str(result), "calls": calls}))
    proc_env = {**env, **runtime["env"], "MEMBUCKET_CACHE_DIR": str(cache_dir)}
    out = subprocess.run([runtime["python"], "-s", str(ROOT / "infra/lambda_driver.py"), str(plan)], env=proc_env,
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{tag}: {out.stderr[-3000:]}")
    return json.loads(result.read_text())


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))], 2)


def compact(endpoint: str, work: Path) -> None:
    """Checkpoint the namespace, so every cold run starts from a checkpoint and an empty tail."""
    from membucket import Membucket, Settings
    from membucket.engine.namespace import ReplicaRegistry

    mb = Membucket(Settings(store=f"s3://data/{PREFIX}", endpoint_url=endpoint, cache_dir=str(work / "compact-cache")),
                   registry=ReplicaRegistry())
    mb.compact(USER, gc=False)


ROUTES = {"search": "/api/v1/memories/search", "add": "/api/v1/memories", "mcp": "/mcp"}


def bench_runtime(runtime: dict, seeded: dict, env: dict, args, work: Path) -> dict:
    out = {}
    token = seeded["token"]
    for fn, path in ROUTES.items():
        if fn not in args.functions.split(","):
            continue
        runs = {"fresh_tmp": [], "warm_tmp": []}
        for k in range(args.cold):
            cache = work / f"{runtime['name']}-{fn}-{k}"
            for kind in ("fresh_tmp", "warm_tmp"):  # the warm_tmp run reuses the cache the fresh run filled
                texts = sentences(args.warm + 1, seed=hash((runtime["name"], fn, k, kind)) & 0xFFFF)
                if fn == "search":
                    bodies = [{"query": t.split(" (")[0], "limit": 10} for t in texts]
                elif fn == "mcp":  # the MCP tool a client calls first: search_memory over JSON-RPC
                    bodies = [{"jsonrpc": "2.0", "id": i, "method": "tools/call",
                               "params": {"name": "search_memory", "arguments": {"query": t.split(" (")[0]}}} for i, t in enumerate(texts)]
                else:
                    bodies = [{"text": t} for t in texts]
                calls = [{"name": "first", "http": ["POST", path, None], "bodies": bodies[:1], "token": token},
                         {"name": "warm", "http": ["POST", path, None], "bodies": bodies[1:], "repeat": args.warm, "token": token}]
                compact(env["AWS_ENDPOINT_URL"], work)
                r = run_cold(runtime, fn, calls, env, cache, work, f"{runtime['name']}-{fn}-{k}-{kind}")
                ok = {200, 201}
                assert all(s in ok for c in r["calls"] for s in c["status"]), r["calls"]
                runs[kind].append(r)
        out[fn] = {}
        for kind, rs in runs.items():
            warm = [ms for r in rs for ms in r["calls"][1]["ms"]]
            out[fn][kind] = {
                "import_s": round(statistics.median(r["import_seconds"] for r in rs), 3),
                "first_invoke_ms": round(statistics.median(r["calls"][0]["ms"][0] for r in rs), 1),
                "cold_total_ms": round(statistics.median(r["import_seconds"] * 1000 + r["calls"][0]["ms"][0] for r in rs), 1),
                "warm_p50_ms": pct(warm, 0.5), "warm_p95_ms": pct(warm, 0.95), "warm_n": len(warm), "cold_runs": len(rs),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="memories in the namespace")
    ap.add_argument("--cold", type=int, default=3, help="cold runs per function and kind")
    ap.add_argument("--warm", type=int, default=30, help="warm invocations after each cold one")
    ap.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    ap.add_argument("--runtimes", default="lambda,dev")
    ap.add_argument("--functions", default="search,add,mcp", help="which of search, add, mcp")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/functions-inprocess.json")
    args = ap.parse_args(argv)

    from membucket_bench.common import moto_server

    py312 = bundle_size.find_python312()
    template = bundle_size.load_template(ROOT / "template.yaml")
    fn_dirs = {"search": "SearchFunction", "add": "AddFunction", "mcp": "McpFunction"}
    report: dict = {"n_memories": args.n, "python_dev": platform.python_version(), "cpus": os.cpu_count(),
                    "loadavg_1m": round(os.getloadavg()[0], 2), "runtimes": {}}
    with tempfile.TemporaryDirectory(prefix="membucket-bench-") as tmp, moto_server() as endpoint:
        work = Path(tmp)
        env = {"PATH": os.environ["PATH"], "HOME": str(work), "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint, "AWS_LAMBDA_FUNCTION_NAME": "membucket-bench",
               "POWERTOOLS_SERVICE_NAME": "membucket", "POWERTOOLS_METRICS_NAMESPACE": "membucket",
               "POWERTOOLS_TRACE_DISABLED": "true", "MEMBUCKET_STORE": f"s3://data/{PREFIX}"}
        os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
        seeded = seed_bucket(endpoint, args.n, work)
        report["seed"] = {k: v for k, v in seeded.items() if k != "token"}
        print(f"seeded {args.n} memories in {seeded['seed_seconds']} s; checkpoint {seeded['checkpoint_bytes']}", flush=True)
        runtimes = []
        if "lambda" in args.runtimes and py312:
            if not (args.build_dir / "DepsLayer").exists():
                bundle_size.estimate_build(args.build_dir, template, py312)
            report["bundle"] = bundle_size.measure(args.build_dir, template)
            layers = os.pathsep.join([str(args.build_dir / "CoreLayer/python"), str(args.build_dir / "DepsLayer/python"),
                                      str(bundle_size.runtime_dir(args.build_dir.parent, py312))])
            runtimes.append({"name": "lambda", "python": py312, "function_dirs": {k: str(args.build_dir / v) for k, v in fn_dirs.items()},
                             "env": {"PYTHONPATH": layers, "PYTHONDONTWRITEBYTECODE": "1",
                                     "MEMBUCKET_MODEL_URL": f"s3://data/{PREFIX}/models/all-MiniLM-L6-v2"}})
        if "dev" in args.runtimes:
            runtimes.append({"name": "dev", "python": sys.executable, "function_dirs": {k: str(ROOT / "functions" / k) for k in fn_dirs},
                             "env": {"PYTHONPATH": str(ROOT)}})
        for rt in runtimes:
            report["runtimes"][rt["name"]] = {"python": rt["python"], **bench_runtime(rt, seeded, env, args, work)}
            print(json.dumps({rt["name"]: report["runtimes"][rt["name"]]}, indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
