"""The suite fails fast on a hang, and `make test-fast` leaves out the known slow tests."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SLOW = {
    "tests/embed/test_minilm.py": "def test_concurrent_calls(",
    "tests/api/test_schemathesis.py": "def test_schemathesis_all_checks(",
    "tests/mcp/test_inspector.py": "def test_inspector_lists_tools_adds_and_searches(",
    "tests/test_serve.py": "def test_serve_process_shares_memories_with_the_cli(",
    "tests/infra/test_local.py": "def test_no_docker_s3_path_runs(",
}


def test_a_hung_test_fails_within_two_minutes():
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    match = re.search(r"--timeout[= ](\d+)", addopts)
    assert match and int(match.group(1)) <= 120


def test_the_slowest_tests_are_marked_slow():
    for path, signature in SLOW.items():
        text = (ROOT / path).read_text()
        head = text[: text.index(signature)]
        decorators = head[head.rstrip().rfind("\n\n") :]  # the lines just above the def
        assert "@pytest.mark.slow" in decorators, path
