"""The CLI side of issue 15: `membucket service`, `doctor` on a directory store, and `serve` on a
busy port or the port MEMBUCKET_PORT names."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

EXE = [sys.executable, "-m", "membucket"]


def _env(tmp_path, **extra):
    return {**os.environ, "MEMBUCKET_STORE": str(tmp_path / "bucket"), "MEMBUCKET_CACHE_DIR": str(tmp_path / "cache"), **extra}


@pytest.mark.parametrize(("platform", "marker"), [("linux", "ExecStart="), ("macos", "<key>ProgramArguments</key>"), ("windows", "<LogonTrigger>")])
def test_service_dry_run_prints_what_it_would_write(tmp_path, platform, marker):
    env = _env(tmp_path, MEMBUCKET_PORT="9123", MEMBUCKET_LLM="none", MEMBUCKET_OPENAI_API_KEY="sk-secret")
    done = subprocess.run([*EXE, "service", "install", "--dry-run", "--platform", platform], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout and "9123" in done.stdout and str(tmp_path / "bucket") in done.stdout
    assert "MEMBUCKET_LLM" in done.stdout and "sk-secret" not in done.stdout  # settings yes, secrets no
    assert not (tmp_path / "bucket").exists()  # a dry run touches nothing


def test_service_refuses_another_platform_without_dry_run(tmp_path):
    other = "macos" if sys.platform.startswith("linux") else "linux"
    done = subprocess.run([*EXE, "service", "status", "--platform", other], env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("error: invalid_input: this machine is")


def test_doctor_names_the_filesystem_and_warns_about_a_sync_folder(tmp_path):
    env = _env(tmp_path, MEMBUCKET_STORE=str(tmp_path / "Dropbox" / "membucket"), MEMBUCKET_EMBEDDER="hash")
    done = subprocess.run([*EXE, "doctor"], env=env, capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout)
    fs = next(c for c in report["checks"] if c["check"] == "store filesystem")
    assert fs["ok"] and fs["detail"]["protocol"] == "links" and fs["detail"]["filesystem"] not in ("", "unknown")
    assert "Dropbox folder" in fs["detail"]["warnings"][0]
    assert report["config"]["port"] == 8765


def test_doctor_on_an_exfat_stick(tmp_path, exfat_dir):
    env = _env(tmp_path, MEMBUCKET_STORE=str(exfat_dir / "membucket"), MEMBUCKET_EMBEDDER="hash")
    report = json.loads(subprocess.run([*EXE, "doctor"], env=env, capture_output=True, text=True, timeout=120).stdout)
    fs = next(c for c in report["checks"] if c["check"] == "store filesystem")["detail"]
    assert (fs["filesystem"], fs["protocol"], fs["case_insensitive"]) == ("fuseblk", "portable", True)
    assert next(c for c in report["checks"] if c["check"] == "conditional writes")["ok"]


def test_a_busy_port_fails_in_one_line_before_the_banner(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*EXE, "serve"], env=_env(tmp_path, MEMBUCKET_PORT=str(port)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout == ""  # no banner
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: port_in_use: cannot listen on 127.0.0.1:{port}: "), done.stderr
    assert "--port, MEMBUCKET_PORT" in lines[0]


def test_memory_port_setting_is_validated(tmp_path):
    done = subprocess.run([*EXE, "serve"], env=_env(tmp_path, MEMBUCKET_PORT="99999"), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "port" in done.stderr.lower() and "Traceback" not in done.stderr
