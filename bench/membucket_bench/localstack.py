"""LocalStack's S3 in host mode (no Docker), from the venv ``make localstack-venv`` builds.

A second S3 implementation beside moto's: the tests start it through tests/support/localstack.py
and ``membucket bench engine-load --s3 localstack`` runs the servers part against it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["localstack", "VENV_PYTHON", "START_SECONDS"]

ROOT = Path(__file__).resolve().parents[2]  # the repository (a development install)
VENV_PYTHON = ROOT / ".localstack-venv" / "bin" / "python"
START_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _s3_running(url: str) -> bool:
    with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(f"{url}/_localstack/health", timeout=2) as r:
        return json.load(r).get("services", {}).get("s3") in ("running", "available")
    return False


def _tail(path: Path, lines: int = 8) -> str:
    with contextlib.suppress(OSError):
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    return ""


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


@contextlib.contextmanager
def localstack(base: Path, start_seconds: float = START_SECONDS) -> Iterator[str]:
    """Run LocalStack's S3 on 127.0.0.1 with its files under ``base``; yield its URL, or
    raise RuntimeError saying why it could not start."""
    if not VENV_PYTHON.exists():
        raise RuntimeError(f"{VENV_PYTHON.parent.parent.name} is missing: run `make localstack-venv`")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MEMBUCKET_", "LOCALSTACK_", "PYTHON"))},
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "SERVICES": "s3",
        "EAGER_SERVICE_LOADING": "1",  # S3 is ready when health says so, not on the first request
        "DNS_ADDRESS": "0",  # no DNS server (it would want port 53)
        "SKIP_SSL_CERT_DOWNLOAD": "1",  # no network beyond loopback
        "DISABLE_EVENTS": "1",  # no analytics
        "PERSISTENCE": "0",
        "FILESYSTEM_ROOT": str(base / "fs"),  # not inside the venv, not shared with another run
        "LOCALSTACK_VOLUME_DIR": str(base / "volume"),
        "TMPDIR": str(base / "tmp"),
    }
    for d in ("fs", "volume", "tmp"):
        (base / d).mkdir(parents=True, exist_ok=True)
    log_path = base / "localstack.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(VENV_PYTHON), "-m", "localstack.runtime.main"], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=base,
        )
    try:
        deadline = time.monotonic() + start_seconds
        while not _s3_running(url):
            if proc.poll() is not None:
                raise RuntimeError(f"LocalStack exited with {proc.returncode}: {_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"LocalStack's S3 was not up within {start_seconds:g} s: {_tail(log_path)}")
            time.sleep(0.25)
        yield url
    finally:
        _stop(proc)
