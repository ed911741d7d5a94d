"""Lambda functions in-process: each ``load`` is a cold start of one container.

A container is a fresh import of ``functions/<name>/app.py`` with its own replica cache
directory (its ``/tmp``); replicas are keyed by cache directory, so two containers of one
function never share a replica, as two Lambda execution environments never do.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
from pathlib import Path

import pytest
from membucket.auth import TokenStore
from membucket.engine.namespace import REGISTRY
from membucket.store import open_store

from tests.support.events import FakeContext, http_event, response_json

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
PREFIX = "membucket"
_counter = itertools.count()


@pytest.fixture
def bucket(s3_inprocess_bucket, monkeypatch):
    """A moto bucket with the environment the template gives every function."""
    monkeypatch.setenv("MEMBUCKET_STORE", f"s3://{s3_inprocess_bucket}/{PREFIX}")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "membucket")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "membucket")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    yield s3_inprocess_bucket
    REGISTRY.clear()


@pytest.fixture
def tokens(bucket):
    return TokenStore(open_store(f"s3://{bucket}/{PREFIX}"))


@pytest.fixture
def load(monkeypatch, tmp_path):
    """``load(name, container="a", **env)``: cold-start ``functions/<name>/app.py`` in a container."""

    def _load(name: str, container: str = "a", **env: str):
        monkeypatch.setenv("MEMBUCKET_CACHE_DIR", str(tmp_path / f"tmp-{container}" / "membucket-cache"))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        spec = importlib.util.spec_from_file_location(f"lambda_{name}_{container}_{next(_counter)}", FUNCTIONS / name / "app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return _load


@pytest.fixture
def stdout(capsys, monkeypatch):
    """Everything the functions print during the test (JSON log lines, EMF metrics), as one string.

    Powertools' log handler keeps the stream it was created with, so it is pointed at a buffer
    here; metrics are printed, so capsys has them.
    """
    from membucket.aws import logger

    logs = io.StringIO()
    for handler in logger.handlers:
        monkeypatch.setattr(handler, "stream", logs)
    return lambda: logs.getvalue() + capsys.readouterr().out


def call(fn, method: str, path: str, body=None, token: str | None = None, headers: dict | None = None, **kw) -> tuple[int, object]:
    """Invoke ``fn.lambda_handler`` with an HTTP API v2 event; return (status, JSON body)."""
    hdrs = dict(headers or {})
    if token:
        hdrs["authorization"] = f"Bearer {token}"
    resp = fn.lambda_handler(http_event(method, path, body, hdrs, **kw), FakeContext())
    return resp["statusCode"], response_json(resp)


def emf_blobs(text: str) -> list[dict]:
    """The EMF metric documents Powertools printed (one JSON object per line), values summed."""
    out = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            doc = json.loads(line)
            out.append({k: sum(v) if isinstance(v, list) else v for k, v in doc.items()})
    return out
