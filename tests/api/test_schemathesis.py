"""Schemathesis, every check, against /openapi.json of the real server: the schema says what the server enforces.

The server is the app `membucket serve` builds (``build_state``), under uvicorn on a free port,
once with auth on (an owner admin token) and once with auth off on loopback, as the product runs
by default. ``st run`` comes from its own venv (``make st-venv``: schemathesis pins versions the
project does not); without it this test skips and says so. Bounded: ``MAX_EXAMPLES`` cases per
operation and phase, deterministic, so a run takes a minute or two and a failure replays.

Any failure fails the test with schemathesis's report (each failure with a curl line to replay).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from membucket import ops
from membucket.categorize.zeroshot import ZeroShotCategorizer
from membucket.http.app import create_app
from membucket.http.serve import build_state

from tests.support.embedders import HashEmbedder
from tests.support.factories import make_mb
from tests.support.live import live_server
from tests.support.required import skip_unless_required

ROOT = Path(__file__).resolve().parents[2]
ST = ROOT / ".st-venv" / "bin" / "st"
MAX_EXAMPLES = 15

# The one operation left out, and why: with auth on it would revoke the token the run uses (the
# stateful phase finds its id in GET /tokens), and every later case would be a 401. The auth-off
# run covers it.
AUTH_ON_EXCLUDED = ["revoke_token_api_v1_tokens__token_id__delete"]

# The one check left out, and why: DELETE on a memory is a soft delete (state "deleted", which is
# final, but kept for the audit trail): the memory, its history and access records stay readable,
# which use_after_free reads as "deleted resource still available".
EXCLUDED_CHECKS = ["use_after_free"]

# Expected statuses (schemathesis.toml syntax), each for a documented reason:
# - a value above its limit is refused with 413 too_large (the limit in details), as the schema's
#   413 response says; schemathesis's default list of refusals leaves 413 out;
# - a cursor is opaque: the schema states its alphabet and length, but only cursors this server
#   issued decode, so a well-formed made-up one is 400 invalid_input;
# - an import body is a bundle: any bytes fit "format: binary", and a made-up one is 422 bundle_invalid.
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
[[operations]]
include-path-regex = "^/api/v1/(memories|apps/\\\\{name\\\\}/memories)$"
include-method = "GET"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409]

[[operations]]
include-path = "/api/v1/import"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409, 413, 415, 422]
"""


def _seed(mb) -> None:
    ctx = mb.context("alice")
    for i, text in enumerate(["Alice likes tea", "Alice works on payments", "Alice rides a bicycle"]):
        ops.add(ctx, text, categories=["even" if i % 2 == 0 else "odd"], metadata={"n": i})
    ops.search(mb.context("alice", app="cursor"), "Alice")  # an app, with access records
    ops.add_rule(ctx, "claude", "deny", "category", "odd")


def _run_st(url: str, tmp_path: Path, headers: list[str], excluded: list[str]) -> subprocess.CompletedProcess:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    args = [
        str(ST), "--config-file", str(config), "run", f"{url}/openapi.json",
        "--checks", "all", "--exclude-checks", ",".join(EXCLUDED_CHECKS), "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
        "--continue-on-failure", "--no-color", "--workers", "1",
        # Generation speed is no contract, and a loaded CI runner is slow: the text pattern's
        # negatives (a NUL, or blank text) are rare among random strings, so finding them takes a while.
        "--suppress-health-check", "too_slow",
        "--request-timeout", "60",
    ]
    for header in headers:
        args += ["--header", header]
    for op_id in excluded:
        args += ["--exclude-operation-id", op_id]
    return subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=900)


@pytest.mark.slow  # about a minute per mode on a quiet machine
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("auth", [True, False], ids=["auth-on", "auth-off"])
def test_schemathesis_all_checks(tmp_path, auth):
    if not ST.exists():
        skip_unless_required(f"schemathesis is not installed: run `make st-venv` (creates {ST.parent.parent.name})")
    embedder = HashEmbedder()
    # The rate limiter (tests/test_rate_limit.py) off: schemathesis sends far more than 1200 requests a minute.
    mb = make_mb(
        str(tmp_path / "bucket"), tmp_path / "cache", embedder=embedder, categorizer=ZeroShotCategorizer(embedder), rate_limit_per_minute=0,
    )
    _seed(mb)
    state = build_state(mb, "127.0.0.1", auth=auth)
    headers, excluded = [], []
    if auth:
        token, _ = state.tokens.create("alice", None, ["admin"])
        headers, excluded = [f"Authorization: Bearer {token}"], AUTH_ON_EXCLUDED
    with live_server(create_app(state)) as url:
        run = _run_st(url, tmp_path, headers, excluded)
    report = (run.stdout + run.stderr)[-20_000:]
    assert run.returncode == 0, f"schemathesis found failures (auth {'on' if auth else 'off'}):\n{report}"
