"""The export function: the bundle lands in the backup bucket, the answer is a presigned URL that works."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import httpx
import pytest
from membucket import ops
from membucket.auth import TokenStore
from membucket.engine.namespace import REGISTRY
from membucket.store import open_store

from tests.support.factories import make_mb

from .conftest import call


@pytest.fixture
def cloud(moto_server, monkeypatch, tmp_path):
    """Data and backup buckets on moto's HTTP server, with the template's environment."""
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    for name in ("mb-data", "mb-backup"):
        s3.create_bucket(Bucket=name)
    env = {
        "MEMBUCKET_STORE": "s3://mb-data/membucket", "MEMBUCKET_ENDPOINT_URL": moto_server,
        "MEMBUCKET_EXPORT_STORE": "s3://mb-backup/exports", "POWERTOOLS_SERVICE_NAME": "membucket",
        "POWERTOOLS_METRICS_NAMESPACE": "membucket", "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    mb = make_mb("s3://mb-data/membucket", tmp_path / "seed-cache", endpoint_url=moto_server)
    ctx = mb.context("alice")
    ids = [ops.add(ctx, t).events[0].id for t in ("Alice is allergic to peanuts", "Alice lives in Lisbon")]
    ops.change_state(ctx, [ids[1]], "archived")
    tokens = TokenStore(open_store("s3://mb-data/membucket", endpoint_url=moto_server))
    yield {"s3": s3, "mb": mb, "ids": ids, "tokens": tokens, "endpoint": moto_server}
    for name in ("mb-data", "mb-backup"):
        for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)
    REGISTRY.clear()


def test_export_answers_a_presigned_url_to_a_valid_bundle(cloud, load, tmp_path):
    fn = load("export")
    token, _ = cloud["tokens"].create("alice", None, ["admin"])
    status, body = call(fn, "POST", "/api/v1/export", {}, token)
    assert status == 200, body
    assert body["key"].startswith("alice/") and body["filename"] == body["key"].rsplit("/", 1)[1]
    assert body["manifest"]["counts"]["memories"] == 2 and body["expires_in"] == 3600
    listed = [o["Key"] for o in cloud["s3"].list_objects_v2(Bucket="mb-backup")["Contents"]]
    assert listed == [f"exports/{body['key']}"]  # only under exports/ in the backup bucket
    assert "X-Amz-Signature" in body["url"] or "Signature" in body["url"]

    fetched = httpx.get(body["url"])  # the URL alone, no credentials
    assert fetched.status_code == 200 and len(fetched.content) == body["bytes"]
    assert "response-content-disposition=attachment" in body["url"]  # (moto ignores it; S3 honours it)
    assert json.loads(zipfile.ZipFile(io.BytesIO(fetched.content)).read("manifest.json"))["user"] == "alice"
    bob = cloud["mb"].context("bob")
    result = ops.import_bundle(bob, io.BytesIO(fetched.content))
    assert result.added == 2 and ops.get(bob, cloud["ids"][1]).state == "archived"


def test_filters_encryption_and_callers(cloud, load):
    fn = load("export")
    admin, _ = cloud["tokens"].create("alice", None, ["admin"])
    status, body = call(fn, "POST", "/api/v1/export", {"state": ["archived"], "encrypt": True, "passphrase": "pw"}, admin)
    assert status == 200 and body["filename"].endswith(".mbx") and body["manifest"]["counts"]["memories"] == 1
    data = httpx.get(body["url"]).content
    assert data[:4] == b"MBX1"
    assert ops.import_bundle(cloud["mb"].context("carol"), io.BytesIO(data), passphrase="pw").added == 1

    app_token, _ = cloud["tokens"].create("alice", "cursor", ["admin"])
    writer, _ = cloud["tokens"].create("alice", None, ["write"])
    assert call(fn, "POST", "/api/v1/export", {}, app_token)[0] == 403
    assert call(fn, "POST", "/api/v1/export", {}, writer)[0] == 403
    assert call(fn, "POST", "/api/v1/export", {})[0] == 401
    status, body = call(fn, "POST", "/api/v1/export", {"app": "../../etc"}, admin)
    assert status == 400, body
    status, body = call(fn, "POST", "/api/v1/export", {"key": "../../ns/alice/log/x"}, admin)
    assert status == 422, body  # no caller-chosen key or path
    # the caller's own user only: bob's token exports bob's (empty) namespace
    bob, _ = cloud["tokens"].create("bob", None, ["admin"])
    status, body = call(fn, "POST", "/api/v1/export", {}, bob)
    assert status == 200 and body["key"].startswith("bob/") and body["manifest"]["counts"]["memories"] == 0


def test_without_an_export_store_the_function_says_so(cloud, load, monkeypatch):
    monkeypatch.delenv("MEMBUCKET_EXPORT_STORE")
    fn = load("export")
    token, _ = cloud["tokens"].create("alice", None, ["admin"])
    status, body = call(fn, "POST", "/api/v1/export", {}, token)
    assert status == 503 and body["error"]["code"] == "unavailable"
