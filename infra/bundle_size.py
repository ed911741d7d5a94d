"""Build the Lambda bundle, check each function's unzipped size, and smoke-run the build.

    python infra/bundle_size.py --build --smoke   # sam build, measure, run every function (make package)
    python infra/bundle_size.py                   # measure an existing .aws-sam/build
    python infra/bundle_size.py --estimate        # no SAM CLI: build both layers the same way, measure

Lambda's limit is 262,144,000 bytes (250 MiB) unzipped per function, its layers included; boto3
comes with the runtime and is not counted. The size of a function is the sum of the file sizes
in its build directory and in each layer it uses (layers are merged into /opt).

--smoke runs each built function under python3.12 with only its build directory, the layers and
boto3 (standing in for the runtime) on the path, bytecode writes off (/opt is read-only in
Lambda), against moto's S3 server started here with the model published to it. That catches a
module the trimmed dependency layer lacks, which a size check cannot.

Needs: the SAM CLI (.sam-venv/bin/sam or PATH) for --build, python3.12 (PATH or pyenv) for
--build and --smoke, and the dev venv (moto, membucket) to run this script. When a tool is
missing the script prints "skip: <why>" and exits 0 (2 with --strict). Exit 1: over the limit,
or a smoke call failed.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn import load_template  # noqa: E402

LIMIT = 262_144_000
RUNTIME_PACKAGES = ["boto3==1.43.11", "botocore==1.43.11"]  # pyproject's pins; the runtime has its own


def find_python312() -> str | None:
    candidates = [shutil.which("python3.12")] + sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    for exe in filter(None, candidates):
        try:
            out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.startswith("Python 3.12"):
            return exe
    return None


def find_sam() -> str | None:
    local = ROOT / ".sam-venv" / "bin" / "sam"
    return str(local) if local.exists() else shutil.which("sam")


def dir_size(path: Path) -> int:
    total = 0
    for base, _, files in os.walk(path):
        total += sum(os.lstat(os.path.join(base, f)).st_size for f in files)
    return total


def measure(build_dir: Path, template: dict) -> list[dict]:
    """Per function: its code, each layer it uses, and the total, in bytes."""
    resources = template["Resources"]
    global_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    rows = []
    for name, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        layers = [ref["Ref"] for ref in res["Properties"].get("Layers", global_layers) if isinstance(ref, dict) and "Ref" in ref]
        parts = {"code": dir_size(build_dir / name), **{layer: dir_size(build_dir / layer) for layer in layers}}
        rows.append({"function": name, **parts, "total": sum(parts.values())})
    return rows


def sam_build(build_dir: Path, py312: str) -> None:
    env = {**os.environ, "PATH": f"{Path(py312).parent}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
    subprocess.run([find_sam(), "build", "-t", str(ROOT / "template.yaml"), "--build-dir", str(build_dir),
                    "--cache-dir", str(build_dir.parent / "cache")], check=True, cwd=ROOT, env=env)


def estimate_build(build_dir: Path, template: dict, py312: str | None) -> None:
    """What sam build makes, without SAM: the deps layer by its own Makefile, the rest copied."""
    shutil.rmtree(build_dir, ignore_errors=True)
    env = {**os.environ, **({"PY312": py312} if py312 else {"PY312": ""})}
    subprocess.run(["make", "-s", "-C", str(ROOT / "layers/deps"), "build-DepsLayer",
                    f"ARTIFACTS_DIR={build_dir / 'DepsLayer'}", f"PIP={sys.executable} -m pip"], check=True, env=env)
    subprocess.run(["make", "-s", "-C", str(ROOT / "layers/core"), "build-CoreLayer", f"ARTIFACTS_DIR={build_dir / 'CoreLayer'}"],
                   check=True, env=env)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name, res in template["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            shutil.copytree(ROOT / res["Properties"]["CodeUri"], build_dir / name, ignore=ignore)


# -- smoke run -----------------------------------------------------------------------------------
def runtime_dir(cache: Path, py312: str) -> Path:
    """boto3 as the Lambda runtime provides it (same pins as pyproject)."""
    target = cache / "runtime-boto3"
    if not (target / "boto3").exists():
        subprocess.run([py312, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(target),
                        *RUNTIME_PACKAGES], check=True)
    return target


def run_function(py312: str, build_dir: Path, fn: str, runtime: Path, env: dict, calls: list[dict], work: Path) -> dict:
    plan = work / f"{fn}.plan.json"
    result = work / f"{fn}.result.json"
    plan.write_text(json.dumps({"function_dir": str(build_dir / fn), "result": str(result), "calls": calls}))
    path = os.pathsep.join([str(build_dir / "CoreLayer/python"), str(build_dir / "DepsLayer/python"), str(runtime)])
    proc_env = {**env, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1", "MEMBUCKET_CACHE_DIR": str(work / f"tmp-{fn}")}
    out = subprocess.run([py312, "-s", str(ROOT / "infra/lambda_driver.py"), str(plan)], env=proc_env,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{fn} failed under {py312}:\n{out.stderr[-4000:]}")
    return json.loads(result.read_text())


def smoke(build_dir: Path, py312: str, work: Path) -> dict:
    import boto3
    from membucket.auth import TokenStore
    from membucket.embed.minilm import locate_model_dir
    from membucket.embed.s3_model import publish_model
    from membucket.store import open_store
    from moto.server import ThreadedMotoServer

    sys.path.insert(0, str(ROOT))
    from tests.conftest import _free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    creds = {"AWS_ACCESS_KEY_ID": "smoke", "AWS_SECRET_ACCESS_KEY": "smoke", "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(creds)
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        s3.create_bucket(Bucket="backup")
        publish_model(locate_model_dir(), open_store("s3://data/membucket/models/all-MiniLM-L6-v2", endpoint_url=endpoint))
        token, _ = TokenStore(open_store("s3://data/membucket", endpoint_url=endpoint)).create("alice", None, ["admin"])
        env = {
            "PATH": os.environ["PATH"], "HOME": str(work), **creds, "AWS_ENDPOINT_URL": endpoint,
            "AWS_LAMBDA_FUNCTION_NAME": "membucket-smoke", "POWERTOOLS_SERVICE_NAME": "membucket",
            "POWERTOOLS_METRICS_NAMESPACE": "membucket", "POWERTOOLS_TRACE_DISABLED": "true",
            "MEMBUCKET_STORE": "s3://data/membucket", "MEMBUCKET_MODEL_URL": "s3://data/membucket/models/all-MiniLM-L6-v2",
            "MEMBUCKET_BACKUP_URL": "s3://backup/membucket", "MEMBUCKET_EXPORT_STORE": "s3://backup/exports",
        }
        runtime = runtime_dir(build_dir.parent, py312)
        init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "smoke", "version": "1"}}
        plans = {
            "ApiFunction": [{"name": "health", "http": ["GET", "/api/v1/health", None]},
                            {"name": "openapi", "http": ["GET", "/openapi.json", None]}],
            "AddFunction": [
                {"name": "add", "http": ["POST", "/api/v1/memories", {"text": "The smoke test likes oolong tea"}], "token": token, "keep_body": True},
            ],
            "SearchFunction": [{"name": "search", "http": ["POST", "/api/v1/memories/search", {"query": "tea"}], "token": token, "keep_body": True}],
            "McpFunction": [{"name": m, "http": ["POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": m, "params": p}], "token": token}
                            for m, p in (("initialize", init), ("tools/list", {}), ("tools/call", {"name": "search_memory", "arguments": {"query": "tea"}}))],
            "ExportFunction": [{"name": "export", "http": ["POST", "/api/v1/export", {}], "token": token, "keep_body": True}],
            "MaintenanceFunction": [{"name": "maintenance", "event": {"tasks": ["compact", "backup", "categorize"]}}],
        }
        expected = {"health": 200, "openapi": 200, "add": 201, "search": 200, "initialize": 200, "tools/list": 200,
                    "tools/call": 200, "export": 200, "state": 200, "maintenance": 200}
        report = {}
        for fn, calls in plans.items():
            report[fn] = run_function(py312, build_dir, fn, runtime, env, calls, work)
            if fn == "SearchFunction":  # then archive what add made, through the state function
                memory_id = json.loads(report["AddFunction"]["calls"][0]["bodies"][0])["results"][0]["id"]
                state = [{"name": "state", "http": ["POST", f"/api/v1/memories/{memory_id}/state", {"state": "archived"}], "token": token}]
                report["StateFunction"] = run_function(py312, build_dir, "StateFunction", runtime, env, state, work)
        failures = [f"{fn}:{c['name']} -> {c['status']}" for fn, r in report.items() for c in r["calls"]
                    if any(s != expected[c["name"]] for s in c["status"])]
        hits = json.loads(report["SearchFunction"]["calls"][0]["bodies"][0])["items"]
        if not hits or "oolong" not in hits[0]["text"]:
            failures.append(f"SearchFunction: the memory added by AddFunction was not found: {hits}")
        link = json.loads(report["ExportFunction"]["calls"][0]["bodies"][0]) if report["ExportFunction"]["calls"][0]["status"] == [200] else {}
        if link:  # the presigned URL serves the bundle, which holds the memory add made
            import httpx

            body = httpx.get(link["url"], timeout=30).content
            if link["manifest"]["counts"].get("memories") != 1 or len(body) != link["bytes"]:
                failures.append(f"ExportFunction: the presigned bundle is not the export ({len(body)} bytes, {link['manifest']['counts']})")
        for r in report.values():
            for c in r["calls"]:
                c.pop("bodies", None)
        return {"python": py312, "functions": report, "failures": failures}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", action="store_true", help="run sam build first")
    ap.add_argument("--estimate", action="store_true", help="build the layers without SAM (Makefile + copies)")
    ap.add_argument("--smoke", action="store_true", help="run every built function under python3.12 against moto's S3 server")
    ap.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    ap.add_argument("--limit", type=int, default=LIMIT, help="bytes (default: Lambda's 262,144,000)")
    ap.add_argument("--json", type=Path, help="write the report here")
    ap.add_argument("--strict", action="store_true", help="a missing tool is an error (exit 2), not a skip")
    args = ap.parse_args(argv)

    def skip(why: str) -> int:
        print(f"skip: {why}")
        return 2 if args.strict else 0

    template = load_template(ROOT / "template.yaml")
    py312 = find_python312()
    if args.build:
        if find_sam() is None:
            return skip("no SAM CLI (make sam-venv)")
        if py312 is None:
            return skip("no python3.12 on PATH or in ~/.pyenv (sam build needs it for the python3.12 build method)")
        sam_build(args.build_dir, py312)
    elif args.estimate:
        estimate_build(args.build_dir, template, py312)
    if not (args.build_dir / "DepsLayer").exists():
        return skip(f"no build in {args.build_dir} (use --build or --estimate)")

    rows = measure(args.build_dir, template)
    report: dict = {"limit_bytes": args.limit, "functions": rows, "deps_precompiled": py312 is not None}
    width = max(len(r["function"]) for r in rows)
    for r in rows:
        flag = "OVER" if r["total"] > args.limit else "ok"
        print(f"{r['function']:<{width}}  {r['total']:>12,d} bytes  {r['total'] / 2**20:7.1f} MiB  {flag}")
    biggest = max(r["total"] for r in rows)
    print(f"largest {biggest:,d} of {args.limit:,d} bytes ({args.limit - biggest:,d} to spare)")
    status = 1 if biggest > args.limit else 0

    if args.smoke:
        if py312 is None:
            print("skip smoke: no python3.12")
        else:
            with tempfile.TemporaryDirectory(prefix="membucket-smoke-") as work:
                report["smoke"] = smoke(args.build_dir, py312, Path(work))
            for fn, r in report["smoke"]["functions"].items():
                calls = ", ".join(f"{c['name']} {c['status'][0]} {c['ms'][0]:.0f} ms" for c in r["calls"])
                print(f"smoke {fn:<{width}}  import {r['import_seconds']:.2f} s; {calls}")
            for failure in report["smoke"]["failures"]:
                print(f"FAILED {failure}")
            status = status or (1 if report["smoke"]["failures"] else 0)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
