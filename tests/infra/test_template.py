"""template.yaml against the code: handlers import, routes reach their function, IAM is least privilege."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import tomllib
import uuid

import pytest
from membucket.engine.keys import NamespaceKeys
from starlette.routing import Match

from tests.functions.conftest import FUNCTIONS, call

from .conftest import ROOT


def resources(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def functions(template):
    return resources(template, "AWS::Serverless::Function")


def route_function(template, route) -> str:
    target = route["Properties"]["Target"]["Fn::Sub"]
    integration = template["Resources"][re.fullmatch(r"integrations/\$\{(\w+)\}", target).group(1)]
    uri = integration["Properties"]["IntegrationUri"]
    return uri["Fn::GetAtt"][0] if "Fn::GetAtt" in uri else uri["Ref"].split(".")[0]  # Fn.Alias: the alias


def test_every_function_directory_is_in_the_template(template):
    in_template = {r["Properties"]["CodeUri"] for r in functions(template).values()}
    on_disk = {f"functions/{p.parent.name}" for p in FUNCTIONS.glob("*/app.py")}
    assert in_template == on_disk == {f"functions/{n}" for n in ("add", "search", "state", "export", "mcp", "api", "maintenance")}


def test_every_handler_is_an_importable_callable(template, bucket, load):
    for name, fn in functions(template).items():
        props = fn["Properties"]
        module_name, attr = props["Handler"].rsplit(".", 1)
        path = ROOT / props["CodeUri"] / f"{module_name}.py"
        assert path.is_file(), f"{name}: {path} missing"
        module = load(path.parent.name, container=name)
        assert callable(getattr(module, attr)), f"{name}: {props['Handler']} is not callable"


def concrete(path: str) -> str:
    if path.startswith("/.well-known/"):
        return "/.well-known/oauth-protected-resource/mcp"
    return path.replace("{memory_id}", str(uuid.uuid4())).replace("{proxy+}", "claude/http/alice")


def test_every_route_reaches_its_function(template, bucket, tokens, load):
    token, _ = tokens.create("alice", None, ["admin"])
    routes = resources(template, "AWS::ApiGatewayV2::Route")
    assert len(routes) >= 10
    loaded = {}
    for name, route in routes.items():
        fn_name = route_function(template, route)
        code = template["Resources"][fn_name]["Properties"]["CodeUri"].split("/")[-1]
        fn = loaded.setdefault(code, load(code, container=code))
        key = route["Properties"]["RouteKey"]
        method, path = ("GET", "/api/v1/stats") if key == "$default" else key.split(" ", 1)
        method = {"ANY": "POST" if path.startswith(("/mcp", "/api/v1/export")) else "GET"}.get(method, method)
        path = concrete(path)
        scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        matched = [r for r in fn.APP.app.routes if r.matches(scope)[0] == Match.FULL]
        assert matched, f"{name}: {method} {path} is not a route of the app in {code}"
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"} if path.startswith("/mcp") else None
        status, _ = call(fn, method, path, body, token, {"mcp-protocol-version": "2025-06-18"})
        assert status not in (404, 405) or "memory" in str(_).lower(), f"{name}: {status} {_}"


def test_routes_are_unique_and_mcp_is_an_output(template):
    keys = [r["Properties"]["RouteKey"] for r in resources(template, "AWS::ApiGatewayV2::Route").values()]
    assert len(keys) == len(set(keys))
    assert template["Outputs"]["McpUrl"]["Value"]["Fn::Sub"].endswith("/mcp")


# -- IAM ----------------------------------------------------------------------------------------
def statements(template, fn_name):
    out = []
    for item in template["Resources"][fn_name]["Properties"]["Policies"]:
        ref = item.get("Ref") if isinstance(item, dict) else None
        if ref is None and isinstance(item, dict) and "Fn::If" in item:
            ref = item["Fn::If"][1].get("Ref") if isinstance(item["Fn::If"][1], dict) else None
        if ref is None or ref not in template["Resources"]:
            continue
        out += template["Resources"][ref]["Properties"]["PolicyDocument"]["Statement"]
    return out


def grants(template, fn_name, action):
    """(resource pattern, condition) pairs for an action, with ${...} made into '*'."""
    out = []
    for st in statements(template, fn_name):
        if isinstance(st, dict) and "Fn::If" in st:
            continue
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if action in actions or "s3:*" in actions:
            res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            for r in res:
                text = r["Fn::Sub"] if isinstance(r, dict) and "Fn::Sub" in r else str(r)
                out.append((re.sub(r"\$\{[^}]+\}", "*", text), st.get("Condition")))
    return out


def test_search_cannot_delete_or_write_checkpoints(template):
    assert grants(template, "SearchFunction", "s3:DeleteObject") == []
    puts = [r for r, _ in grants(template, "SearchFunction", "s3:PutObject")]
    assert puts and all(r.endswith(("/log/*", "/access/*")) for r in puts), puts
    env = template["Resources"]["SearchFunction"]["Properties"]["Environment"]["Variables"]
    assert env["MEMBUCKET_COMPACT_AFTER"] == "0"  # else a search could try to compact


def test_export_writes_only_to_the_backup_bucket(template):
    assert grants(template, "ExportFunction", "s3:DeleteObject") == []
    puts = [r for r, _ in grants(template, "ExportFunction", "s3:PutObject")]
    assert puts == ["arn:*:s3:::*/exports/*"]
    doc = next(iter(template["Resources"]["ExportWritePolicy"]["Properties"]["PolicyDocument"]["Statement"]))
    assert "BackupBucketName" in doc["Resource"]["Fn::Sub"]


def test_nothing_can_overwrite_a_log_entry_or_checkpoint(template):
    for fn in functions(template):
        for resource, condition in grants(template, fn, "s3:PutObject"):
            if resource.endswith(("/log/*", "/checkpoints/*", "/blobs/*")):
                assert condition == {"Null": {"s3:if-none-match": "false"}}, (fn, resource)
            if resource.endswith("/CHECKPOINT"):
                assert condition in ({"Null": {"s3:if-none-match": "false"}}, {"Null": {"s3:if-match": "false"}})


def test_import_and_gc_reach_every_key_they_write_or_collect(template):
    """Bulk import writes content-addressed parts; GC removes parts and finished reindexes (issue 13)."""
    keys = NamespaceKeys("alice")
    key = "arn:aws:s3:::bucket/membucket/{}"
    api_puts = [r for r, _ in grants(template, "ApiFunction", "s3:PutObject")]
    for written in (keys.blob("a" * 64), keys.preferences):
        assert any(fnmatch.fnmatch(key.format(written), r) for r in api_puts), written
    for fn in ("MaintenanceFunction", "AddFunction", "StateFunction", "McpFunction", "ApiFunction"):
        deletes = [r for r, _ in grants(template, fn, "s3:DeleteObject")]
        for collected in (keys.blob("a" * 64), keys.reindex_part(keys.reindex_dir("openai:x", 8), "b" * 64)):
            assert any(fnmatch.fnmatch(key.format(collected), r) for r in deletes), (fn, collected)


def test_log_groups_are_named_as_lambda_names_them_with_retention(template):
    for name, fn in functions(template).items():
        props = fn["Properties"]
        group = template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
        assert group["LogGroupName"]["Fn::Sub"] == "/aws/lambda/" + props["FunctionName"]["Fn::Sub"], name
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_no_reserved_concurrency_and_exports_expire(template):
    """A reservation of 1 fails on accounts whose concurrency quota is 10; exports hold memory text."""
    assert all("ReservedConcurrentExecutions" not in fn["Properties"] for fn in functions(template).values())
    rules = template["Resources"]["BackupBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    exports = [r for r in rules if r.get("Prefix") == "exports/"]
    assert exports and exports[0]["ExpirationInDays"] == {"Ref": "ExportExpiryDays"}
    assert template["Parameters"]["ExportExpiryDays"]["Default"] == 7


def test_maintenance_never_deletes_backups_and_no_wildcards(template):
    for resource, _ in grants(template, "MaintenanceFunction", "s3:DeleteObject"):
        assert "/ns/*/" in resource
    for fn in functions(template):
        for st in statements(template, fn):
            if isinstance(st, dict) and "Action" in st:
                assert st["Action"] != "s3:*" and st.get("Resource") != "*", (fn, st)


def test_policy_keys_match_the_engine_key_layout(template):
    keys = NamespaceKeys("alice")
    paths = {
        "log": keys.log(7), "pointer": keys.pointer, "checkpoint": keys.checkpoint_dir(7, "abcd1234") + "db.duckdb",
        "access": keys.access_prefix + "20261125T120000000000-abc.json",
    }
    writer = [r for r, _ in grants(template, "AddFunction", "s3:PutObject")]
    for what, key in paths.items():
        assert any(fnmatch.fnmatch(f"arn:aws:s3:::bucket/membucket/{key}", r) for r in writer), (what, key, writer)
    search = [r for r, _ in grants(template, "SearchFunction", "s3:PutObject")]
    assert not any(fnmatch.fnmatch(f"arn:aws:s3:::bucket/membucket/{paths['pointer']}", r) for r in search)


# -- consistency with the engine and the dependency pins ----------------------------------------
def test_version_expiry_outlasts_the_engine_retention(template):
    params = template["Parameters"]
    assert params["NoncurrentVersionDays"]["Default"] * 86400 > params["RetentionSeconds"]["Default"]


def test_every_function_has_error_and_throttle_alarms(template):
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    watched = {(a["Properties"]["MetricName"], a["Properties"]["Dimensions"][0]["Value"].get("Ref")) for a in alarms
               if a["Properties"]["Namespace"] == "AWS/Lambda"}
    for fn in functions(template):
        assert ("Errors", fn) in watched and ("Throttles", fn) in watched, fn


def test_layers_are_built_for_python312(template):
    core = template["Resources"]["CoreLayer"]
    assert core["Properties"]["ContentUri"] == "layers/core" and core["Metadata"]["BuildMethod"] == "makefile"
    assert (ROOT / "layers/core/Makefile").read_text().count("build-CoreLayer:") == 1
    deps = template["Resources"]["DepsLayer"]
    assert deps["Properties"]["ContentUri"] == "layers/deps" and (ROOT / "layers/deps/Makefile").read_text().count("build-DepsLayer:") == 1
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"


def test_the_core_layer_holds_no_benchmark_code(template):
    """The layer is layers/core as it stands; benchmarks live in bench/membucket_bench (dev installs)."""
    core = ROOT / template["Resources"]["CoreLayer"]["Properties"]["ContentUri"]
    assert not (core / "membucket" / "bench").exists() and not (core / "membucket_bench").exists()
    assert (ROOT / "bench" / "membucket_bench" / "cli.py").exists()
    mentions = [p for p in core.rglob("*.py") if "membucket_bench" in p.read_text(encoding="utf-8")]
    assert not mentions, f"the package must not import the benchmarks: {mentions}"


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()] = version.strip()
    return out


def test_layer_pins_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = _pins(project)
    layer = _pins((ROOT / "layers/deps/requirements.txt").read_text().splitlines())
    runtime_or_local_only = {"boto3", "botocore", "uvicorn", "click", "rich", "filelock", "swagger-ui-bundle-v2"}
    for name, version in wanted.items():
        if name in runtime_or_local_only:
            assert name not in layer, f"{name} should stay out of the layer (see layers/deps/requirements.txt)"
        else:
            assert layer.get(name) == version, f"{name}: layer pins {layer.get(name)}, pyproject {version}"


def test_handlers_are_thin():
    for path in FUNCTIONS.glob("*/app.py"):
        assert len(path.read_text().splitlines()) <= 40, path


@pytest.mark.parametrize("name", ["cfn", "bundle_size"])
def test_infra_scripts_import(infra, name):
    assert importlib.util.find_spec("yaml") and infra(name)


def test_scheduled_backup_target_and_grants_match_the_backup_layout(template):
    """The maintenance function gets the setting the code reads, may write every key a backup
    writes into the backup bucket, and may read back manifests (what the next run skips)."""
    from membucket.backup.manifest import BACKUPS, OBJECTS, PARTIAL
    from membucket.settings import Settings

    env = template["Resources"]["MaintenanceFunction"]["Properties"]["Environment"]["Variables"]
    name = "MEMBUCKET_" + "backup_url".upper()
    assert "backup_url" in Settings.model_fields and "BackupBucketName" in env[name]["Fn::Sub"]

    def backup_grants(action):
        out = []
        for st in statements(template, "MaintenanceFunction"):
            if isinstance(st, dict) and action in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"]):
                text = st["Resource"]["Fn::Sub"] if isinstance(st["Resource"], dict) else str(st["Resource"])
                if "BackupBucketName" in text:
                    out.append(re.sub(r"\$\{[^}]+\}", "*", text))
        return out

    prefix = "arn:aws:s3:::backups/membucket/"
    written = [OBJECTS + NamespaceKeys("alice").log(7), OBJECTS + "tokens/0123456789abcdef/" + "a" * 64 + ".json",
               f"{BACKUPS}20261125T031700000000Z-abc123/manifest.json", f"{BACKUPS}20261125T031700000000Z-abc123/{PARTIAL}"]
    for key in written:
        assert any(fnmatch.fnmatch(prefix + key, r) for r in backup_grants("s3:PutObject")), key
    for key in written[2:]:
        assert any(fnmatch.fnmatch(prefix + key, r) for r in backup_grants("s3:GetObject")), key
    assert backup_grants("s3:DeleteObject") == []


def test_scheduled_categorize_can_commit_and_reach_the_model(template):
    """The categorize task commits categories (log entries, created only if absent), loads the
    offline model and may read the LLM key; its schedule runs exactly that task."""
    from membucket.maintenance import TASKS

    fn = template["Resources"]["MaintenanceFunction"]["Properties"]
    schedules = {e["Properties"]["Input"] for e in fn["Events"].values()}
    assert '{"tasks": ["categorize"]}' in schedules and "categorize" in TASKS
    log_puts = [(r, c) for r, c in grants(template, "MaintenanceFunction", "s3:PutObject") if r.endswith("/log/*")]
    assert log_puts and all(c == {"Null": {"s3:if-none-match": "false"}} for _, c in log_puts)
    policies = [p.get("Ref") if isinstance(p, dict) else p for p in fn["Policies"]]
    assert "ModelReadPolicy" in policies
    assert any(isinstance(p, dict) and "Fn::If" in p and p["Fn::If"][1] == {"Ref": "OpenAISecretPolicy"} for p in fn["Policies"])
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["MEMBUCKET_LLM"] == {"Ref": "Llm"} and env["MEMBUCKET_OPENAI_CHAT_MODEL"] == {"Ref": "OpenAIChatModel"}
