"""An S3 store the CLI cannot use fails in seconds, in one line that says what to do."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from membucket.cli.base import Runtime
from membucket.store import s3


def run_cli(tmp_path, *args, **env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MEMBUCKET_"))}
    env.update(HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), MEMBUCKET_CACHE_DIR=str(tmp_path / "cache"), **env_extra)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "membucket", *args], env=env, capture_output=True, text=True, timeout=50)
    return done, time.monotonic() - started


def test_no_credentials_is_one_line_naming_what_to_set(tmp_path):
    done, _ = run_cli(tmp_path, "--store", "s3://some-bucket/mb", "list")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: store_error: no AWS credentials found") and "AWS_ACCESS_KEY_ID" in done.stderr


def test_an_unknown_profile_is_one_line(tmp_path):
    done, _ = run_cli(tmp_path, "--store", "s3://some-bucket/mb", "--profile", "nosuch", "list")
    assert done.returncode == 1 and done.stderr.strip() == "error: store_error: AWS profile 'nosuch' not found in ~/.aws/config or ~/.aws/credentials"


def test_an_unreachable_endpoint_fails_within_seconds(tmp_path):
    done, seconds = run_cli(tmp_path, "--store", "s3://some-bucket/mb", "--endpoint-url", "http://127.0.0.1:9", "list",
                            AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y")
    assert done.returncode == 1 and done.stderr.startswith("error: store_unavailable:") and done.stderr.count("\n") == 1
    assert seconds < 20  # 11 attempts with backoff took about a minute


@pytest.mark.parametrize("one_shot, retries, timeout", [(True, 1, 2.0), (False, s3.MAX_RETRIES, s3.CONNECT_TIMEOUT)])
def test_one_shot_commands_retry_less_than_a_server(tmp_path, monkeypatch, one_shot, retries, timeout):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    rt = Runtime({"store": "s3://some-bucket/mb", "region": "us-east-1", "cache_dir": str(tmp_path)}, False, one_shot=one_shot)
    config = rt.mb.store.client.meta.config
    assert (config.retries["total_max_attempts"], config.connect_timeout) == (retries + 1, timeout)


def test_store_settings_win_over_the_one_shot_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMBUCKET_STORE_MAX_RETRIES", "4")
    rt = Runtime({"store": "s3://some-bucket/mb", "region": "us-east-1", "cache_dir": str(tmp_path)}, False)
    assert rt.mb.store.client.meta.config.retries["total_max_attempts"] == 5
