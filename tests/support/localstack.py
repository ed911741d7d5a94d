"""LocalStack's S3 as a second S3 implementation, run in host mode (no Docker) from its own venv.

``make localstack-venv`` builds ``.localstack-venv`` (``make test`` depends on it); the launcher
is bench/membucket_bench/localstack.py (the load benchmark uses it too). The session fixture
starts one LocalStack process on a free loopback port with only S3 enabled and waits up to
60 s for its health endpoint; where the venv is missing or LocalStack does not come
up, the tests that ask for it skip and say why (the last lines of its log included).
"""

from __future__ import annotations

import contextlib
import uuid

import boto3
import pytest

from .required import skip_unless_required

__all__ = ["localstack_server", "localstack_bucket"]


@pytest.fixture(scope="session")
def localstack_server(tmp_path_factory):
    """One LocalStack S3 endpoint for the whole session (skips, saying why, if it cannot start)."""
    from membucket_bench.localstack import localstack  # imported here: conftest loads this module for every test

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(localstack(tmp_path_factory.mktemp("localstack")))
        except RuntimeError as exc:
            skip_unless_required(f"no LocalStack S3: {exc}")
        yield url


@pytest.fixture
def localstack_bucket(localstack_server, monkeypatch):
    """A fresh bucket on LocalStack; yields (endpoint_url, bucket_name)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"mb-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=localstack_server, region_name="us-east-1").create_bucket(Bucket=name)
    return localstack_server, name
