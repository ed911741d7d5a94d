"""cfn-lint and `sam validate --lint` on the templates (SAM CLI in its own venv: `make sam-venv`)."""

from __future__ import annotations

import os
import subprocess

import pytest

from .conftest import ROOT

SAM_VENV = ROOT / ".sam-venv" / "bin"
needs_sam = pytest.mark.skipif(not (SAM_VENV / "sam").exists(), reason="no .sam-venv (make sam-venv installs the SAM CLI)")
TEMPLATES = ["template.yaml", "infra/replica-bucket.yaml"]


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=180, env=env)


@needs_sam
@pytest.mark.parametrize("template", TEMPLATES)
def test_cfn_lint(template):
    out = run(str(SAM_VENV / "cfn-lint"), template)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_sam
@pytest.mark.timeout(400)  # sam validate can take minutes on a loaded machine
def test_sam_validate_lint():
    out = run(str(SAM_VENV / "sam"), "validate", "--lint", "-t", "template.yaml")
    assert out.returncode == 0, out.stdout + out.stderr
