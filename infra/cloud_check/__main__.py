"""cloud-check: run the `sam build` output the way Lambda would, against S3 with IAM enforced.

    python -m infra.cloud_check                 # make cloud-check (after make package)
    python -m infra.cloud_check --quick         # one add, one search, the SSE probe

Every function of template.yaml runs in its own sandbox (infra/cloud_check/sandbox.py): a fresh
``python3.12 -I`` with only its code, the merged layers and the runtime SDK on the path, read
only, as ``nobody``, /tmp of the function's ephemeral size, CPU capped to its Lambda share, and
the environment the template gives it. The runtime SDK is the oldest boto3/botocore the code
supports (``--sdk``): S3's If-Match on PutObject arrived in botocore 1.35.69 (If-None-Match in
1.35.2). S3 is moto behind an IAM gate (s3gate.py) that checks every request against the
calling function's role, resolved from the template (template.py). Requests go through an API
Gateway stand-in (gateway.py) with the HTTP API's routes, payload and time limits; the tour is
scenario.py. Probes: the same add under an SDK older than conditional writes (``--old-sdk``),
which must be refused clearly, and with ``Llm=openai``, which must not break adds.

Then (cold.py) each function's first answer to a real request in a fresh environment, on a
namespace of ``--cold-memories`` (10k) memories: ``cold_real_request_s`` per function, and for
MCP ``cold_initialize_s`` and ``cold_search_s`` (a first ``tools/call search_memory``).

The last line of output is JSON: ``{"functions": {"<Name>": {"ok", "error", "cold_first_response_s",
"warm_p50_ms", "peak_rss_mb", "tmp_mb", "iam_denied", "cold_real_request_s", ...}}, "cold": {...},
"probes": {...}, "sandbox": ...}`` (``cold_first_response_s``: the tour's first request, a few memories).
Exit 1 when a function or probe is not ok; 0 with "skip: <why>" when python3.12 or the build is
missing (2 with --strict).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
import bundle_size  # noqa: E402
from cfn import load_template  # noqa: E402

from .cold import measure_cold, seed_namespace  # noqa: E402
from .gateway import Gateway  # noqa: E402
from .sandbox import full_isolation_available, prepare_layout, runtime_sdk  # noqa: E402
from .scenario import Driver, many_users, run_all  # noqa: E402
from .template import load_stack  # noqa: E402

OLDEST_SDK = "1.35.69"  # first botocore whose PutObject takes IfMatch (IfNoneMatch: 1.35.2)
OLD_SDK = "1.34.162"  # last botocore before S3 conditional writes
DATA, BACKUP, PREFIX = "membucket-cc-data", "membucket-cc-backup", "membucket"
ADMIN_KEY = "AKIACLOUDCHECKADMIN"
USERS = {"alice": "cc-alice", "carol": "cc-carol", "dave": "cc-dave"}
ORPHAN = b"MBP1 cloud-check orphan part"  # an import part whose commit never happened
ORPHAN_KEY = f"{PREFIX}/ns/{USERS['alice']}/blobs/{hashlib.sha256(ORPHAN).hexdigest()}.bin"


def orphan_left(endpoint: str) -> bool:
    import boto3

    listed = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").list_objects_v2(Bucket=DATA, Prefix=ORPHAN_KEY)
    return bool(listed.get("KeyCount"))


def _force_rmtree(path: Path) -> None:
    if path.exists():
        for base, _dirs, _ in os.walk(path):
            os.chmod(base, os.stat(base).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        shutil.rmtree(path)


class S3Gate:
    """The gate subprocess (moto + IAM) and the identity file it reads."""

    def __init__(self, work: Path) -> None:
        self.ids_path = work / "identities.json"
        self.ids = {ADMIN_KEY: {"name": "admin", "admin": True, "statements": []}}
        self.write()
        ready = work / "gate.port"
        ready.unlink(missing_ok=True)
        self.log = open(work / "gate.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "infra.cloud_check.s3gate", "--identities", str(self.ids_path),
                                      "--ready", str(ready)], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while not ready.exists():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the S3 gate did not start: {(work / 'gate.log').read_text()[-2000:]}")
            time.sleep(0.1)
        self.endpoint = f"http://127.0.0.1:{ready.read_text().strip()}"

    def add(self, key: str, name: str, statements: list[dict]) -> None:
        self.ids[key] = {"name": name, "statements": statements}
        self.write()

    def write(self) -> None:
        tmp = self.ids_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.ids))
        os.replace(tmp, self.ids_path)

    def denials(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.endpoint}/_gate/denials", timeout=30) as r:
            return json.loads(r.read())

    def age(self, seconds: float) -> None:
        req = urllib.request.Request(f"{self.endpoint}/_gate/age?seconds={seconds}", method="POST")
        urllib.request.urlopen(req, timeout=60).read()

    def fetch(self, url: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def seed(endpoint: str) -> dict[str, str]:
    """Buckets as the template makes them (versioned), the offline model published, one token per user."""
    import boto3
    from membucket.auth import TokenStore
    from membucket.embed.minilm import locate_model_dir
    from membucket.embed.s3_model import publish_model
    from membucket.store import open_store

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for bucket in (DATA, BACKUP):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    publish_model(locate_model_dir(), open_store(f"s3://{DATA}/{PREFIX}/models/all-MiniLM-L6-v2", endpoint_url=endpoint))
    store = TokenStore(open_store(f"s3://{DATA}/{PREFIX}", endpoint_url=endpoint))
    tokens = {who: store.create(user, None, ["admin"])[0] for who, user in USERS.items()}
    # the parts of an import whose commit never happened: garbage collection must be able to remove them
    s3.put_object(Bucket=DATA, Key=ORPHAN_KEY, Body=ORPHAN)
    boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1").create_secret(
        Name="membucket/openai", SecretString=json.dumps({"api_key": "sk-cloud-check"}))
    return tokens


def _token_store(endpoint: str):
    from membucket.auth import TokenStore
    from membucket.store import open_store

    return TokenStore(open_store(f"s3://{DATA}/{PREFIX}", endpoint_url=endpoint))


def access_key(fn: str, tag: str = "") -> str:
    return ("AKIA" + (tag + fn).upper())[:20].ljust(20, "X")


def log_findings(path: Path) -> dict:
    """Lines a logger wrote twice (once as Powertools JSON, once through the root handler)."""
    if not path.exists():
        return {"log_lines": 0, "log_lines_doubled": 0}
    json_msgs, plain_msgs, n = set(), set(), 0
    for line in path.read_text(errors="replace").splitlines():
        n += 1
        if line.startswith("{"):
            try:
                json_msgs.add(str(json.loads(line).get("message")))
            except ValueError:
                pass
        elif line.startswith("[") and line.count("\t") >= 3:
            plain_msgs.add(line.split("\t", 3)[3])
    doubled = sorted(json_msgs & plain_msgs)
    return {"log_lines": n, "log_lines_doubled": len(doubled), "log_doubled_example": doubled[0][:120] if doubled else None}


def summarize(gw: Gateway, gate: S3Gate, logs: Path, tokens_users: list[str]) -> dict:
    denials = gate.denials()
    out = {}
    for fn, stats in gw.stats.items():
        if not stats.invocations and not stats.errors:
            continue
        mine = [d for d in denials if d["function"] == fn]
        row = stats.summary()
        row["iam_denied"] = len(mine)
        if mine:
            kinds = sorted({f"{d['action']} {d['resource']}" for d in mine})
            row["iam_denials"] = kinds[:8]
            row["ok"] = False
            row["error"] = "; ".join(filter(None, [f"IAM denied {len(mine)}x: {', '.join(kinds[:4])}", row["error"]]))
        row.update(log_findings(logs / f"{fn}.log"))
        row["exceptions"] = exceptions(logs / f"{fn}.log")
        segments = gw.xray.get(fn, [])
        (logs / f"{fn}.xray.jsonl").write_text("\n".join(seg.replace("\n", " ") for seg in segments) + "\n")
        row["xray_segments"] = len(segments)
        row["xray_user_ids"] = sum(1 for s in segments if any(u in s for u in tokens_users))
        if row["xray_user_ids"]:
            row["ok"] = False
            row["error"] = "; ".join(filter(None, [f"{row['xray_user_ids']} X-Ray segments carry a user id", row["error"]]))
        spec = gw.stack.functions[fn]
        if row["peak_rss_mb"] > spec.memory_mb:
            row["ok"] = False
            row["error"] = "; ".join(filter(None, [f"peak RSS {row['peak_rss_mb']} MB > MemorySize {spec.memory_mb}", row["error"]]))
        out[fn] = row
    return out


def probe_add(name: str, stack, layout, runtime: Path, gate: S3Gate, isolated: bool, logs: Path, token: str, cpu_cap: bool) -> dict:
    """One cold add under another runtime or configuration; ok when it succeeds or is refused clearly at init."""
    fn = "AddFunction"
    key = access_key(fn, name[:4])
    gate.add(key, fn, stack.functions[fn].statements)
    gw = Gateway(stack, layout, runtime, gate.endpoint, {fn: key}, isolated, logs / name, cpu_cap=cpu_cap, tag=f"cc-{name}")
    try:
        r = gw.request("POST", "/api/v1/memories", {"text": f"probe {name}"}, token=token)
    finally:
        gw.stop_all()
    return {"status": r.status, "error": r.error, "body": r.body[:300].decode("utf-8", "replace"), "log_clues": exceptions(logs / name / f"{fn}.log")}


def exceptions(path: Path) -> list[str]:
    """The last line of each exception a function logged (Powertools JSON ``exception``, or a plain traceback)."""
    out: list[str] = []
    for line in (path.read_text(errors="replace") if path.exists() else "").splitlines():
        if line.startswith("{") and '"exception"' in line:
            try:
                text = json.loads(line)["exception"]
            except (ValueError, KeyError):
                continue
            last = [ln for ln in str(text).splitlines() if ln.strip()]
            if last and last[-1][:300] not in out:
                out.append(last[-1][:300])
    return out[:3]


FIGURES = ("cold_real_request", "cold_real_request_s", "cold_initialize_s", "cold_search_s", "cold_initialize_cpu_s", "cold_search_cpu_s",
           "cold_requests", "cold_first_response_s", "init_s", "warm_p50_ms", "peak_rss_mb", "tmp_mb", "cpu_cap")


def function_figures(report: dict) -> dict:
    """Per function, the cold (fresh environment, real request) and warm figures of this run."""
    return {
        "source": "make cloud-check (infra/cloud_check): python3.12 -I over the sam build output, CPU capped to the Lambda share, moto S3 with IAM",
        "cold": report.get("cold", {}), "sandbox": {k: report["sandbox"].get(k) for k in ("isolated", "python", "runtime_sdk", "loadavg_start", "loadavg_end")},
        "functions": {fn: {k: row[k] for k in FIGURES if k in row} for fn, row in report["functions"].items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    ap.add_argument("--json", type=Path, help="also write the report here")
    ap.add_argument("--functions-json", type=Path, help="also write each function's cold and warm figures here (bench/results/functions.json)")
    ap.add_argument("--quick", action="store_true", help="one add, one search and the SSE probe; no maintenance, no probes")
    ap.add_argument("--sdk", default=OLDEST_SDK, help="boto3/botocore version playing the runtime's")
    ap.add_argument("--old-sdk", default=OLD_SDK, help="an SDK the functions must refuse clearly ('' to skip)")
    ap.add_argument("--no-probes", action="store_true")
    ap.add_argument("--many-users", type=int, default=0, metavar="N", help="also drive N users through one add sandbox (0: skip)")
    ap.add_argument("--cold-memories", type=int, default=10_000, metavar="N",
                    help="cold first answers to real requests on a namespace of N memories (cold.py; 0: skip)")
    ap.add_argument("--cold-runs", type=int, default=1, metavar="K", help="fresh sandboxes per cold request (median)")
    ap.add_argument("--no-cpu-cap", action="store_true")
    ap.add_argument("--no-isolation", action="store_true", help="the fallback: write-protected copies, current user, no namespace")
    ap.add_argument("--strict", action="store_true", help="a missing tool or build is an error (exit 2), not a skip")
    args = ap.parse_args(argv)

    py312 = bundle_size.find_python312()
    if py312 is None or not (args.build_dir / "DepsLayer").exists():
        print("skip: " + ("no python3.12" if py312 is None else f"no build in {args.build_dir} (make package)"))
        return 2 if args.strict else 0
    template = load_template(ROOT / "template.yaml")
    params = {"DataBucketName": DATA, "BackupBucketName": BACKUP, "StorePrefix": PREFIX}
    stack = load_stack(template, params)
    isolated, why = (False, "--no-isolation: write-protected copies, current user") if args.no_isolation else full_isolation_available()
    work = args.build_dir.parent / "cloud-check"
    _force_rmtree(work)
    work.mkdir(parents=True)
    logs = work / "logs"
    started = time.time()
    load_start = [round(x, 2) for x in os.getloadavg()]
    layout = prepare_layout(args.build_dir, list(stack.functions), work, py312)
    cache = args.build_dir.parent / "cache"
    cache.mkdir(exist_ok=True)
    runtime = runtime_sdk(cache, py312, args.sdk)
    gate = S3Gate(work)
    os.environ.update({"AWS_ACCESS_KEY_ID": ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": "admin", "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_SESSION_TOKEN", None)
    report: dict = {}
    try:
        tokens = seed(gate.endpoint)
        keys = {fn: access_key(fn) for fn in stack.functions}
        for fn, key in keys.items():
            gate.add(key, fn, stack.functions[fn].statements)
        gw = Gateway(stack, layout, runtime, gate.endpoint, keys, isolated, logs, cpu_cap=not args.no_cpu_cap)
        driver = Driver(gw, tokens, gate.fetch)
        cold: dict = {}
        try:
            run_all(driver, gate.age, quick=args.quick)
            if not args.quick and "MaintenanceFunction" in gw.stats and orphan_left(gate.endpoint):
                gw.stats["MaintenanceFunction"].errors.append("garbage collection left an import part no entry names, older than the retention period")
            if args.cold_memories and not args.quick:
                seeded = seed_namespace(gate.endpoint, f"s3://{DATA}/{PREFIX}", args.cold_memories, str(work / "seed-cache"))
                cold = measure_cold(gw, seeded["token"], seeded["memory_id"], runs=args.cold_runs)
                report["cold"] = {"memories": seeded["memories"], "seed_s": seeded["seed_s"], "runs": args.cold_runs,
                                  "loadavg": [round(x, 2) for x in os.getloadavg()]}
        finally:
            gw.stop_all()
        report["functions"] = summarize(gw, gate, logs, list(USERS.values()) + ["cc-cold10k"])
        for fn, row in cold.items():
            if fn in report["functions"]:
                report["functions"][fn].update(row)
        if args.many_users:
            store = _token_store(gate.endpoint)
            crowd = [store.create(f"cc-user-{i:04d}", None, ["write"])[0] for i in range(args.many_users)]
            denied = len(gate.denials())
            report["many_users"] = many_users(gw, crowd)
            report["many_users"]["iam_denied"] = len(gate.denials()) - denied
            report["many_users"]["ok"] &= report["many_users"]["iam_denied"] == 0
        probes = {}
        if not (args.quick or args.no_probes):
            if args.old_sdk:
                old = runtime_sdk(cache, py312, args.old_sdk)
                p = probe_add("old_sdk", stack, layout, old, gate, isolated, logs, tokens["alice"], not args.no_cpu_cap)
                refused = p["error"] and "init failed" in p["error"] and OLDEST_SDK in p["error"]
                p["ok"] = bool(refused or p["status"] in (200, 201))
                p["want"] = f"refused at init with a message naming botocore>={OLDEST_SDK}, or the add works"
                probes[f"sdk_{args.old_sdk}"] = p
            llm_stack = load_stack(template, {**params, "Llm": "openai", "OpenAIBaseUrl": "http://127.0.0.1:9/v1",
                                              "OpenAISecretName": "membucket/openai"})
            p = probe_add("llm_openai", llm_stack, layout, runtime, gate, isolated, logs, tokens["alice"], not args.no_cpu_cap)
            p["ok"] = p["status"] in (200, 201) and not any("ModuleNotFoundError" in c for c in p["log_clues"])
            p["want"] = "Llm=openai with the endpoint down: the add works (categories left for maintenance)"
            probes["llm_openai"] = p
        report["probes"] = probes
    finally:
        gate.stop()
    report["sandbox"] = {"isolated": isolated, "how": why, "python": py312, "runtime_sdk": args.sdk, "loadavg_start": load_start,
                         "loadavg_end": [round(x, 2) for x in os.getloadavg()],
                         "seconds": round(time.time() - started, 1), "logs": str(logs)}
    for fn, row in report["functions"].items():
        flag = "ok  " if row["ok"] else "FAIL"
        print(f"{flag} {fn:<20} cold {row['cold_first_response_s']} s, warm p50 {row['warm_p50_ms']} ms, rss {row['peak_rss_mb']} MB, "
              f"/tmp {row['tmp_mb']} MB, iam denied {row['iam_denied']}, {row['cpu_cap']}")
        for c in row.get("cold_requests", []):
            print(f"     cold at {report['cold']['memories']} memories: {c['request']} -> {c['status']} in {c.get('cold_s')} s "
                  f"(init {c.get('init_s')} s + first invoke {c.get('first_invoke_ms')} ms; CPU {c.get('cold_cpu_s')} s)")
        if not row["ok"]:
            print(f"     {row['error']}")
    if "many_users" in report:
        m = report["many_users"]
        print(f"{'ok  ' if m['ok'] else 'FAIL'} many_users: {m['users']} users through one {m['function']} sandbox, "
              f"rss {m['peak_rss_mb']} of {m['memory_mb']} MB, /tmp {m['tmp_mb']} of {m['ephemeral_mb']} MB, {m['statuses']}")
    for name, p in report.get("probes", {}).items():
        print(f"{'ok  ' if p['ok'] else 'FAIL'} probe {name}: {p['status']} {p['error'] or ''} {p['log_clues'][:1]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.functions_json:
        args.functions_json.parent.mkdir(parents=True, exist_ok=True)
        args.functions_json.write_text(json.dumps(function_figures(report), indent=2) + "\n")
    print(json.dumps(report))
    bad = [fn for fn, r in report["functions"].items() if not r["ok"]] + [n for n, p in report.get("probes", {}).items() if not p["ok"]]
    bad += ["many_users"] if not report.get("many_users", {"ok": True})["ok"] else []
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
