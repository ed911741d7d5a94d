"""Fixtures shared by the whole suite: a clean environment and S3 endpoints (in-process and HTTP)."""

from __future__ import annotations

import os
import socket
import uuid

import boto3
import pytest

from tests.support.exfat import exfat_dir, exfat_mount  # noqa: F401  (fixtures)
from tests.support.localstack import localstack_bucket, localstack_server  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch, tmp_path_factory):
    """No test sees the developer's MEMBUCKET_* or AWS_* settings; AWS calls get fake credentials."""
    for name in list(os.environ):
        if name.startswith("MEMBUCKET_") or name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MEMBUCKET_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def flush_access_log():
    """Background access-log writes finish inside the test that made them (while its store,
    e.g. an in-process moto mock, still exists): nothing leaks into the next test or the network."""
    yield
    from membucket.ops.access import ACCESS_WRITER

    ACCESS_WRITER.flush()


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """The CLI over a directory store in tmp_path with the small test embedder (the real one is
    tested in tests/embed). ``cli_env(*args, code=0, input=None)`` runs one command
    (tests/support/cli.py); ``.store`` and ``.tmp`` name the store and tmp_path, and
    ``.lib(user)`` opens the same store through the library, to check what a command did."""
    from membucket.engine.namespace import REGISTRY

    from tests.support.cli import cli_invoker
    from tests.support.embedders import HashEmbedder
    from tests.support.factories import make_mb

    store = str(tmp_path / "bucket")
    monkeypatch.setenv("MEMBUCKET_STORE", store)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr("membucket.client.load_embedder", lambda name, settings=None: HashEmbedder())
    REGISTRY.clear()
    run = cli_invoker()
    run.store, run.tmp = store, tmp_path
    run.lib = lambda user="default": make_mb(store, tmp_path / "check-cache").context(user)
    return run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """A real HTTP S3 endpoint on 127.0.0.1 (moto's server mode). Yields its URL."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_http_bucket(moto_server, monkeypatch):
    """A fresh bucket on the moto HTTP server; yields (endpoint_url, bucket_name)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"mb-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return moto_server, name


@pytest.fixture
def s3_inprocess_bucket():
    """A fresh bucket in in-process moto; yields the bucket name while the mock is active."""
    from moto import mock_aws

    with mock_aws():
        name = f"mb-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=name)
        try:
            yield name
        finally:
            # Background access-log writes land while the mock still exists: the autouse flush runs
            # after this fixture's teardown, and a write that reached the real endpoint instead spent
            # botocore's retries (minutes) on a network that is not there (a CI timeout).
            from membucket.ops.access import ACCESS_WRITER

            ACCESS_WRITER.flush()


@pytest.fixture(scope="session")
def moto_atomic_conditional_writes():
    """Make moto's conditional PUT atomic, as S3 and MinIO are.

    moto 5.2 checks If-None-Match / If-Match and then stores the object in separate steps
    (``S3Response.put_object``), so two threads racing on one key could both pass the check; the
    window is narrow and rarely hit, but a racing-writer test must never flake on it. Real S3
    decides atomically. PutObject handling is serialised here, which covers both in-process
    moto and the HTTP server (both run in this process).
    """
    import threading

    from moto.s3.responses import S3Response

    lock = threading.Lock()
    original = S3Response.put_object

    def put_object(self, *args, **kwargs):
        with lock:
            return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(S3Response, "put_object", put_object)
        yield
