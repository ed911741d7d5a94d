"""infra/cloud_check: the template resolved as a stack would see it, IAM decisions on S3 requests,
the gate in front of moto, and (slow, with a build) one quick tour of the real bundle."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra.cloud_check.iam import Check, allowed, evaluate, s3_request
from infra.cloud_check.s3gate import Gate
from infra.cloud_check.template import load_stack

from .conftest import ROOT

DATA = "arn:aws:s3:::data/membucket"


@pytest.fixture(scope="module")
def stack(template):
    return load_stack(template, {"DataBucketName": "data", "BackupBucketName": "backup"})


def put(key: str, **headers) -> Check:
    return s3_request("PUT", f"/data/membucket/{key}", "", headers)[0]


def test_environment_merges_globals_with_the_function_and_resolves_intrinsics(stack, template):
    export = stack.functions["ExportFunction"].environment
    assert export["MEMBUCKET_STORE"] == "s3://data/membucket"
    assert export["MEMBUCKET_EXPORT_STORE"] == "s3://backup/exports"
    assert "OPENAI_BASE_URL" not in export  # !If [..., !Ref AWS::NoValue] removes the key
    assert stack.functions["SearchFunction"].environment["MEMBUCKET_COMPACT_AFTER"] == "0"
    llm = load_stack(template, {"DataBucketName": "d", "BackupBucketName": "b", "OpenAIBaseUrl": "http://x/v1"})
    assert llm.functions["AddFunction"].environment["OPENAI_BASE_URL"] == "http://x/v1"


def test_routes_pick_the_function_api_gateway_would(stack):
    want = {("POST", "/api/v1/memories"): "AddFunction", ("GET", "/api/v1/memories"): "ApiFunction",
            ("POST", "/api/v1/memories/search"): "SearchFunction", ("POST", "/api/v1/memories/abc/state"): "StateFunction",
            ("DELETE", "/api/v1/memories/abc"): "StateFunction", ("PATCH", "/api/v1/memories/abc"): "ApiFunction",
            ("GET", "/mcp"): "McpFunction", ("POST", "/mcp/claude/http/alice"): "McpFunction",
            ("POST", "/api/v1/export"): "ExportFunction", ("GET", "/api/v1/health"): "ApiFunction"}
    assert {k: stack.route(*k).function for k in want} == want


def test_commits_need_if_none_match_and_search_cannot_delete(stack):
    add = stack.functions["AddFunction"].statements
    assert allowed(add, put("ns/u/log/00000000000000000001.json", **{"If-None-Match": "*"}))
    assert not allowed(add, put("ns/u/log/00000000000000000001.json"))  # an overwrite of a committed entry
    search = stack.functions["SearchFunction"].statements
    assert not allowed(search, s3_request("DELETE", "/data/membucket/ns/u/log/1.json", "", {})[0])
    export = stack.functions["ExportFunction"].statements
    assert not allowed(export, put("ns/u/log/1.json", **{"If-None-Match": "*"}))
    assert allowed(export, s3_request("PUT", "/backup/exports/u/x/b.zip", "partNumber=1&uploadId=u", {})[0])


def test_s3_requests_map_to_the_actions_iam_checks():
    copy = s3_request("PUT", "/backup/membucket/ns/u/log/1.json", "", {"x-amz-copy-source": "/data/membucket/ns/u/log/1.json"})
    assert [(c.action, c.resource) for c in copy] == [("s3:PutObject", "arn:aws:s3:::backup/membucket/ns/u/log/1.json"),
                                                     ("s3:GetObject", f"{DATA}/ns/u/log/1.json")]
    assert s3_request("GET", "/data", "list-type=2&prefix=membucket%2Fns%2F", {})[0].context == {"s3:prefix": "membucket/ns/"}
    assert s3_request("POST", "/data/k", "uploads", {})[0].action == "s3:PutObject"
    assert s3_request("HEAD", "/data/k", "versionId=3", {})[0].action == "s3:GetObjectVersion"
    body = b"<Delete><Object><Key>a</Key></Object><Object><Key>b/c</Key></Object></Delete>"
    assert [c.resource for c in s3_request("POST", "/data", "delete", {}, body)] == ["arn:aws:s3:::data/a", "arn:aws:s3:::data/b/c"]


def test_explicit_deny_wins_and_unknown_operators_never_allow():
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::data/*"}
    odd = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020"}}}
    assert evaluate([allow, deny], Check("s3:DeleteObject", "arn:aws:s3:::data/x")) == "ExplicitDeny"
    assert evaluate([odd], Check("s3:GetObject", "arn:aws:s3:::data/x")) == "ImplicitDeny"


def _wsgi(gate, method: str, path: str, key: str, query: str = "") -> tuple[str, bytes]:
    seen = {}
    auth = f"AWS4-HMAC-SHA256 Credential={key}/20261206/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x"
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "HTTP_AUTHORIZATION": auth}
    body = b"".join(gate(environ, lambda status, headers, exc=None: seen.setdefault("status", status)))
    return seen["status"], body


def test_gate_denies_with_aws_message_and_hides_missing_keys_without_list_bucket(tmp_path):
    reader = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}]
    ids = tmp_path / "ids.json"
    lister = reader + [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data"}]
    ids.write_text(json.dumps({"K1": {"name": "Reader", "statements": reader}, "K2": {"name": "Lister", "statements": lister}}))

    def missing(environ, start_response):
        start_response("404 Not Found", [])
        return [b"<Error><Code>NoSuchKey</Code></Error>"]

    gate = Gate(missing, ids)
    status, body = _wsgi(gate, "PUT", "/data/k", "K1")
    assert status.startswith("403") and b"not authorized to perform: s3:PutObject" in body
    assert gate.denials == [{"function": "Reader", "action": "s3:PutObject", "resource": "arn:aws:s3:::data/k", "method": "PUT",
                             "path": "/data/k", "context": {}}]
    assert _wsgi(gate, "GET", "/data/k", "K1")[0].startswith("403")  # S3 hides a missing key from a caller without ListBucket
    assert _wsgi(gate, "GET", "/data/k", "K2")[0].startswith("404")
    assert _wsgi(gate, "GET", "/data/k", "nobody")[0].startswith("403")


@pytest.mark.slow
def test_quick_tour_of_the_built_bundle():
    """Three functions of the real build, sandboxed, one call each; skips without a build or python3.12."""
    if not (ROOT / ".aws-sam/build/DepsLayer").exists():
        pytest.skip("no .aws-sam/build (make package)")
    out = subprocess.run([sys.executable, "-m", "infra.cloud_check", "--quick", "--no-probes"], cwd=ROOT, capture_output=True,
                         text=True, timeout=900)
    last = out.stdout.strip().splitlines()[-1]
    if last.startswith("skip:"):
        pytest.skip(last)
    report = json.loads(last)
    assert set(report["functions"]) == {"AddFunction", "SearchFunction", "McpFunction"}, out.stdout[-3000:]
    for name in ("AddFunction", "SearchFunction"):
        row = report["functions"][name]
        assert row["ok"], row
        assert row["iam_denied"] == 0 and row["peak_rss_mb"] > 50 and row["tmp_mb"] > 0


def test_deployer_policy_covers_the_guides_model_and_first_token_steps():
    statements = json.loads((ROOT / "infra/deployer-policy.json").read_text())["Statement"]
    bucket = "/membucket-data-123456789012-eu-central-1"
    for method, key in (("PUT", "membucket/models/all-MiniLM-L6-v2/model.safetensors"), ("PUT", "membucket/tokens/0123abcd.json"),
                        ("GET", "membucket/tokens/0123abcd.json")):
        assert allowed(statements, s3_request(method, f"{bucket}/{key}", "", {})[0]), (method, key)
    assert allowed(statements, s3_request("GET", bucket, "list-type=2&prefix=membucket%2Ftokens%2F", {})[0])
    assert not allowed(statements, s3_request("PUT", f"{bucket}/membucket/ns/alice/log/1.json", "", {})[0])


class _FakeGateway:
    """Each request after a stop is a cold start of 1.0 s init (0.5 s CPU) plus 200 ms (100 ms CPU)."""

    def __init__(self, stack, statuses):
        from infra.cloud_check.gateway import FunctionStats

        self.stack, self.statuses, self.stopped = stack, statuses, []
        self.stats = {fn: FunctionStats() for fn in stack.functions}
        self.last_cold = None

    def stop(self, fn):
        self.stopped.append(fn)

    def request(self, method, path, body, token=None, headers=None):
        from infra.cloud_check.gateway import Reply

        self.last_cold = (1.0, 200.0, 0.5, 100.0)
        return Reply(self.statuses.get(path, 200), {}, b"{}", 200.0, "-")


def test_cold_figures_are_per_real_request_in_a_fresh_sandbox(stack):
    from infra.cloud_check.cold import measure_cold

    gw = _FakeGateway(stack, {"/api/v1/memories/m1/state": 500})
    out = measure_cold(gw, "token", "m1", runs=3)
    mcp = out["McpFunction"]
    assert mcp["cold_real_request"] == "initialize" and mcp["cold_initialize_s"] == 1.2 and mcp["cold_search_s"] == 1.2
    assert mcp["cold_initialize_cpu_s"] == 0.6 and [r["runs"] for r in mcp["cold_requests"]] == [3, 3]
    assert gw.stopped.count("McpFunction") == 2 * (3 + 1)  # a new sandbox before every run, none left running
    assert out["StateFunction"]["cold_requests"][0]["status"] == 500 and gw.stats["StateFunction"].errors
    assert not gw.stats["SearchFunction"].errors
