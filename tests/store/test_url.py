"""open_store: every URL form it accepts, and a clear error for the ones it does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from membucket.store import LocalStore, MemoryStore, ObjectStore, S3Store, open_store


def test_file_url(tmp_path):
    store = open_store((tmp_path / "my bucket").as_uri())  # percent-encoded space
    assert isinstance(store, LocalStore)
    assert store.root == (tmp_path / "my bucket").resolve()
    assert store.root.is_dir()
    assert store.url == store.root.as_uri()
    assert isinstance(open_store(f"file://localhost{tmp_path}"), LocalStore)


def test_absolute_path_is_created(tmp_path):
    target = tmp_path / "a" / "b"
    store = open_store(str(target))
    assert isinstance(store, LocalStore)
    assert target.is_dir()
    store.put("k", b"v")
    assert (target / "k").read_bytes() == b"v"


def test_relative_path_resolves_against_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store("data/bucket")
    assert isinstance(store, LocalStore)
    assert store.root == (tmp_path / "data" / "bucket").resolve()
    assert Path(store.root).is_absolute() and store.root.is_dir()


def test_s3_url(monkeypatch):
    store = open_store("s3://my-bucket/team/membucket/", endpoint_url="http://127.0.0.1:9000", region="eu-west-1")
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.url) == ("my-bucket", "team/membucket/", "s3://my-bucket/team/membucket")
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert store.client.meta.region_name == "eu-west-1"

    bare = open_store("s3://my-bucket")
    assert (bare.bucket, bare.prefix, bare.url) == ("my-bucket", "", "s3://my-bucket")


def test_s3_url_honours_aws_endpoint_url(monkeypatch, s3_http_bucket):
    endpoint, bucket = s3_http_bucket
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    store = open_store(f"s3://{bucket}/p")
    assert store.client.meta.endpoint_url == endpoint
    store.put("k", b"through the env endpoint")
    assert open_store(f"s3://{bucket}").get("p/k").body == b"through the env endpoint"


def test_memory_url_is_a_process_wide_name():
    a = open_store("memory://test-url-a")
    assert isinstance(a, MemoryStore)
    assert open_store("memory://test-url-a") is a
    assert open_store("memory://test-url-b") is not a
    assert a.url == "memory://test-url-a"
    assert open_store("memory://") is open_store("memory://default")


@pytest.mark.parametrize("url", ["memory://roundtrip", "s3://b-ucket/x/y"])
def test_url_roundtrip(url):
    store = open_store(url)
    assert open_store(store.url).url == store.url == url


def test_local_url_roundtrip(tmp_path):
    store = open_store(str(tmp_path))
    again = open_store(store.url)
    assert isinstance(again, LocalStore) and again.root == store.root


def test_every_store_is_an_object_store(tmp_path):
    for url in [str(tmp_path), "memory://proto", "s3://bucket-p"]:
        assert isinstance(open_store(url), ObjectStore)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gs://bucket/prefix", "unsupported store URL scheme 'gs'"),
        ("http://example.com/bucket", "unsupported store URL scheme 'http'"),
        ("s3://", "needs a bucket"),
        ("file://otherhost/data", "local absolute path"),
        ("", "empty"),
        ("   ", "empty"),
    ],
)
def test_bad_urls(url, message):
    with pytest.raises(ValueError, match=message):
        open_store(url)
