"""What functions share: the model fetched from the bucket, JWT claims, the remote model's secret."""

from __future__ import annotations

import os

import boto3
import pytest
from membucket.auth import InvalidToken
from membucket.auth.gateway import identity_from_claims
from membucket.aws import make_membucket
from membucket.embed.minilm import locate_model_dir
from membucket.embed.s3_model import MODEL_FILES, S3ModelEmbedder, fetch_model, publish_model
from membucket.errors import InvalidUserId
from membucket.store import open_store

from .conftest import PREFIX, call


@pytest.fixture
def model_url(bucket):
    url = f"s3://{bucket}/{PREFIX}/models/all-MiniLM-L6-v2"
    publish_model(locate_model_dir(), open_store(url), precisions=("fp32", "int8"))  # fp16 is the same code path, 45 MB more
    return url


def test_model_is_fetched_from_the_bucket_on_first_embed(bucket, tokens, load, model_url, tmp_path):
    token, _ = tokens.create("alice", None, ["admin"])
    add = load("add", MEMBUCKET_MODEL_URL=model_url)
    model_dir = tmp_path / "tmp-a" / "membucket-cache" / "model"
    assert not model_dir.exists()  # cold start: nothing fetched until something needs embedding
    assert call(add, "POST", "/api/v1/memories", {"text": "Alice keeps bees"}, token)[0] == 201
    weights = model_dir / "model.int8.safetensors"  # the default precision: a quarter of the fp32 download
    assert 20_000_000 < weights.stat().st_size < 25_000_000 and not (model_dir / "model.safetensors").exists()
    mtime = weights.stat().st_mtime_ns
    assert call(add, "POST", "/api/v1/memories", {"text": "Alice sells honey"}, token)[0] == 201
    assert weights.stat().st_mtime_ns == mtime  # warm: no second download
    embedder = add.APP.app.state.membucket.mb.embedder
    assert isinstance(embedder, S3ModelEmbedder) and embedder.fetch_seconds is not None


def test_fp32_stays_selectable_and_an_old_bucket_falls_back_to_it(bucket, tokens, load, model_url, tmp_path):
    token, _ = tokens.create("alice", None, ["admin"])
    add = load("add", "b", MEMBUCKET_MODEL_URL=model_url, MEMBUCKET_MODEL_PRECISION="fp32")
    assert call(add, "POST", "/api/v1/memories", {"text": "Alice keeps bees"}, token)[0] == 201
    assert sorted(p.name for p in (tmp_path / "tmp-b" / "membucket-cache" / "model").glob("*.safetensors")) == ["model.safetensors"]
    old = open_store(f"s3://{bucket}/{PREFIX}/models/old")  # published before fp16/int8 existed: fp32 only
    publish_model(locate_model_dir(), old, precisions=("fp32",))
    path = fetch_model(old, tmp_path / "old", "int8")
    assert sorted(p.name for p in path.glob("*.safetensors")) == ["model.safetensors"]


def test_a_corrupt_model_is_refused(bucket, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in MODEL_FILES:
        (src / name).write_bytes(name.encode() * 10)
    store = open_store(f"s3://{bucket}/{PREFIX}/models/tiny")
    publish_model(src, store, precisions=("fp32",))
    assert fetch_model(store, tmp_path / "ok") == tmp_path / "ok"
    store.put("config.json", b"{}")
    with pytest.raises(RuntimeError, match="does not match its manifest"):
        fetch_model(store, tmp_path / "model")


def test_missing_model_says_how_to_publish(bucket, tmp_path):
    with pytest.raises(RuntimeError, match="publish_model"):
        fetch_model(open_store(f"s3://{bucket}/nothing"), tmp_path / "model")


def _jwt_event_claims(claims):
    return {"requestContext": {"authorizer": {"jwt": {"claims": claims, "scopes": None}}}}


def test_jwt_mode_takes_the_caller_from_verified_claims(bucket, load):
    add = load("add", MEMBUCKET_LAMBDA_AUTH="jwt")
    search = load("search", MEMBUCKET_LAMBDA_AUTH="jwt")
    claims = {"sub": "3f1c9b2e-0d4a-4c1e-9a57-1b2c3d4e5f60", "scope": "openid membucket/write", "iss": "https://issuer"}
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

    def gw(fn, method, path, body):
        from tests.support.events import FakeContext, http_event, response_json

        event = http_event(method, path, body, {"authorization": f"Bearer {jwt}"})
        event["requestContext"].update(_jwt_event_claims(claims)["requestContext"])
        resp = fn.lambda_handler(event, FakeContext())
        return resp["statusCode"], response_json(resp)

    assert gw(add, "POST", "/api/v1/memories", {"text": "Sam runs marathons"})[0] == 201
    status, body = gw(search, "POST", "/api/v1/memories/search", {"query": "running"})
    assert status == 200 and body["items"][0]["text"] == "Sam runs marathons"
    assert [i.key.split("/")[1] for i in open_store(f"s3://{bucket}/{PREFIX}").list("ns/")][0] == claims["sub"]
    # no verified claims on the request (not through the JWT authorizer): refused
    assert call(add, "POST", "/api/v1/memories", {"text": "x"}, jwt)[0] == 401


def test_identity_from_claims():
    ident = identity_from_claims({"sub": "alice", "scope": "membucket/read openid"})
    assert ident.user == "alice" and ident.scopes == frozenset({"read"}) and ident.app is None
    assert identity_from_claims({"email": "a@b.c", "scp": ["membucket:admin"]}, "email").can("admin")
    assert identity_from_claims({"sub": "alice"}).scopes == frozenset({"write"})
    with pytest.raises(InvalidToken):
        identity_from_claims({"email": "a@b.c"})
    with pytest.raises(InvalidUserId):
        identity_from_claims({"sub": "../etc"})


def test_remote_model_key_comes_from_secrets_manager(bucket, monkeypatch):
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="membucket/openai", SecretString='{"api_key": "sk-test"}')
    monkeypatch.setenv("MEMBUCKET_OPENAI_SECRET_NAME", "membucket/openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    make_membucket()
    assert os.environ["OPENAI_API_KEY"] == "sk-test"
    monkeypatch.delenv("OPENAI_API_KEY")
