"""Large imports through a presigned upload (S3 on moto's HTTP server, a real PUT to the URL), and
the direct route's 413 naming that route when a bundle is above Lambda's payload limit."""

from __future__ import annotations

import io

import boto3
import httpx
import pytest
from membucket import ops
from membucket.auth import TokenStore
from membucket.caller import ServerState
from membucket.http.app import LOOPBACK_HOSTS, create_app

from tests.support.factories import make_mb
from tests.support.live import live_server

from .conftest import Api, error_code


@pytest.fixture
def s3_api(moto_server, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    bucket = f"up-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    s3.create_bucket(Bucket=bucket)
    mb = make_mb(f"s3://{bucket}/membucket", tmp_path / "cache", endpoint_url=moto_server, max_direct_import_bytes=2048)
    state = ServerState(mb=mb, tokens=TokenStore(mb.store, cache_seconds=10.0), auth_required=True, allowed_hosts=list(LOOPBACK_HOSTS))
    with live_server(create_app(state)) as url:
        api = Api(url, state)
        try:
            yield api, s3, bucket
        finally:
            api.close()


def bundle_of(mb, user: str, n: int) -> bytes:
    ctx = mb.context(user)
    for i in range(n):
        ops.add(ctx, f"{user} remembers fact number {i} about the garden and the {i}th tulip")
    buf = io.BytesIO()
    ops.export_bundle(ctx, buf)
    return buf.getvalue()


def test_large_bundle_goes_through_a_presigned_upload(s3_api):
    api, s3, bucket = s3_api
    data = bundle_of(api.mb, "source", 20)
    assert len(data) > 2048
    owner = api.as_("alice")

    direct = owner.post("/import", content=data, headers={"content-type": "application/zip"})
    assert direct.status_code == 413 and error_code(direct) == "too_large"
    assert "/api/v1/import/uploads" in direct.json()["error"]["message"]
    assert ops.list_memories(api.mb.context("alice")).total == 0

    up = owner.post("/import/uploads")
    assert up.status_code == 200, up.text
    body = up.json()
    assert body["method"] == "PUT" and body["key"].startswith("uploads/alice/") and body["expires_in"] == 900
    put = httpx.put(body["url"], content=data)  # the URL alone, no credentials
    assert put.status_code == 200, put.text
    key = "membucket/" + body["key"]
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(data)

    done = owner.post("/import", params={"upload": body["key"]})
    assert done.status_code == 200, done.text
    assert ops.list_memories(api.mb.context("alice")).total == 20
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key=key)  # deleted once imported
    again = owner.post("/import", params={"upload": body["key"]})
    assert again.status_code == 404 and error_code(again) == "not_found"


def test_an_upload_is_only_its_own_users(s3_api):
    api, _s3, _bucket = s3_api
    data = bundle_of(api.mb, "source", 3)
    body = api.as_("alice").post("/import/uploads").json()
    assert httpx.put(body["url"], content=data).status_code == 200
    bob = api.as_("bob")
    stolen = bob.post("/import", params={"upload": body["key"]})
    assert stolen.status_code == 404 and error_code(stolen) == "not_found"  # another user's upload: as unknown as any
    for bad in ("uploads/alice/../bob/x.bundle", "ns/alice/CHECKPOINT", "tokens/x"):
        assert bob.post("/import", params={"upload": bad}).status_code == 400
    assert ops.list_memories(api.mb.context("bob")).total == 0
    app_bound = api.as_("alice", app="cursor").post("/import/uploads")
    assert app_bound.status_code == 403


def test_uploads_need_an_s3_store(api):
    resp = api.as_("alice").post("/import/uploads")
    assert resp.status_code == 409 and error_code(resp) == "conflict"


def test_direct_limit_in_lambda_names_the_upload_route(api, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ApiFunction")
    big = b"x" * (5 * 1_048_576)
    resp = api.as_("alice").post("/import", content=big, headers={"content-type": "application/zip"})
    assert resp.status_code == 413 and "POST /api/v1/import/uploads" in resp.json()["error"]["message"]
