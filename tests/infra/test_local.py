"""local/: the sample events work on their functions, the compose file is complete, the no-Docker S3 path runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.support.events import FakeContext, response_json

from .conftest import ROOT

EVENTS = ROOT / "local" / "events"
# event file -> (function directory, the status it gets with a fresh bucket and a valid token)
EXPECTED = {
    "add.json": ("add", 201), "search.json": ("search", 200), "state.json": ("state", 404), "export.json": ("export", 200),
    "mcp-initialize.json": ("mcp", 200), "mcp-tools-list.json": ("mcp", 200), "mcp-tools-call.json": ("mcp", 200),
    "api-health.json": ("api", 200), "api-stats.json": ("api", 200),
    "maintenance-compact.json": ("maintenance", None), "maintenance-backup.json": ("maintenance", None),
    "maintenance-scheduled-event.json": ("maintenance", None),
}


def test_every_sample_event_is_listed_and_documented():
    assert {p.name for p in EVENTS.glob("*.json")} == set(EXPECTED)
    readme = (ROOT / "local/README.md").read_text()
    for name in EXPECTED:
        assert f"local/events/{name}" in readme, name


def test_sample_events_route_to_their_function(template):
    from .test_template import resources, route_function

    by_key = {r["Properties"]["RouteKey"]: route_function(template, r) for r in resources(template, "AWS::ApiGatewayV2::Route").values()}
    for name, (fn, _) in EXPECTED.items():
        event = json.loads((EVENTS / name).read_text())
        if "routeKey" in event:
            target = template["Resources"][by_key[event["routeKey"]]]["Properties"]["CodeUri"]
            assert target == f"functions/{fn}", (name, event["routeKey"], target)


def test_sample_events_run_in_process(bucket, tokens, load):
    token, _ = tokens.create("alice", None, ["admin"])
    loaded = {}
    for name in sorted(EXPECTED, key=lambda n: (n != "add.json", n)):  # add first, so search finds it
        fn_name, status = EXPECTED[name]
        env = {"MEMBUCKET_EXPORT_STORE": f"s3://{bucket}/exports"} if fn_name == "export" else {}
        fn = loaded.setdefault(fn_name, load(fn_name, container=fn_name, **env))
        event = json.loads((EVENTS / name).read_text().replace("mb_REPLACE_WITH_TOKEN_FROM_membucket_token_create", token))
        resp = fn.lambda_handler(event, FakeContext())
        if status is None:
            assert "compact" in resp or "backup" in resp, resp
        else:
            assert resp["statusCode"] == status, (name, resp["statusCode"], response_json(resp))
    hits = response_json(loaded["search"].lambda_handler(json.loads((EVENTS / "search.json").read_text().replace(
        "mb_REPLACE_WITH_TOKEN_FROM_membucket_token_create", token)), FakeContext()))["items"]
    assert "aisle" in hits[0]["text"]


def test_compose_file_has_minio_a_bucket_and_the_server():
    compose = yaml.safe_load((ROOT / "local/docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"minio", "create-bucket", "membucket"}
    assert "minio/minio" not in services["minio"]["image"].split(":")[0].split("}")[-1]  # the archived image
    assert "mc mb" in services["create-bucket"]["command"][0] and "version enable" in services["create-bucket"]["command"][0]
    env = services["membucket"]["environment"]
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000" and env["MEMBUCKET_STORE"].startswith("s3://")
    assert services["membucket"]["depends_on"]["create-bucket"]["condition"] == "service_completed_successfully"


@pytest.mark.slow  # ~10 s: a local S3 server subprocess
@pytest.mark.timeout(300)
def test_no_docker_s3_path_runs():
    out = subprocess.run([sys.executable, str(ROOT / "local/s3_server.py"), "--check"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "add and search against the HTTP S3 endpoint work" in out.stdout


@pytest.mark.parametrize("name", ["sam-env.json"])
def test_sam_env_matches_the_compose_defaults(name):
    params = json.loads((ROOT / "local" / name).read_text())["Parameters"]
    assert params["MEMBUCKET_STORE"] == "s3://membucket/dev" and params["AWS_ACCESS_KEY_ID"] == "membucket"
