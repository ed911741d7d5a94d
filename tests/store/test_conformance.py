"""One test body, every backend: the ObjectStore contract (store/base.py) as executable checks.

Backends: ``memory``, ``local`` (a temp dir), ``local-portable`` (the protocol for filesystems
without hard links or fcntl, forced on a temp dir), ``local-exfat`` (a real exFAT filesystem,
tests/support/exfat.py), ``s3-inprocess`` (moto in-process),
``s3-http`` (moto's HTTP server through ``endpoint_url``), ``s3-http-prefix`` (the same with
a non-empty store prefix) and ``s3-localstack`` (LocalStack's S3 in host mode, a second S3
implementation: tests/support/localstack.py). Backend-specific behaviour (the directory backend's processes and
torn writes, S3 error mapping and server-side copy) follows the shared suite.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.retries.standard import ExponentialBackoff
from membucket.store import (
    IF_ABSENT,
    ConflictInFlight,
    InvalidKey,
    LocalStore,
    MemoryStore,
    NotFound,
    NotModified,
    ObjectStore,
    PreconditionFailed,
    PutCondition,
    S3Store,
    StoreError,
    Unavailable,
)
from membucket.store.s3 import MAX_RETRIES, map_s3_errors

from tests.store.workers import claim_worker
from tests.support.faulty_store import FaultyStore

BACKENDS = ["memory", "local", "local-portable", "local-exfat", "s3-inprocess", "s3-http", "s3-http-prefix", "s3-localstack"]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> ObjectStore:
    """A fresh, empty store of each backend."""
    kind = request.param
    if kind == "memory":
        return MemoryStore()
    if kind == "local":
        return LocalStore(tmp_path / "bucket")
    if kind == "local-portable":
        return LocalStore(tmp_path / "bucket", portable=True)
    if kind == "local-exfat":
        store = LocalStore(request.getfixturevalue("exfat_dir") / "bucket")
        assert store.caps.protocol == "portable"  # exFAT has no hard links
        return store
    if kind == "s3-localstack":
        endpoint, bucket = request.getfixturevalue("localstack_bucket")
        return S3Store(bucket, endpoint_url=endpoint)
    request.getfixturevalue("moto_atomic_conditional_writes")
    if kind == "s3-inprocess":
        return S3Store(request.getfixturevalue("s3_inprocess_bucket"))
    endpoint, bucket = request.getfixturevalue("s3_http_bucket")
    return S3Store(bucket, "tenant/a" if kind == "s3-http-prefix" else "", endpoint_url=endpoint)


def keys(store: ObjectStore, prefix: str = "", **kwargs) -> list[str]:
    return [info.key for info in store.list(prefix, **kwargs)]


# -- basic operations -------------------------------------------------------------------------


def test_put_get_head_roundtrip(store):
    etag = store.put("ns/u1/CHECKPOINT", b"hello")
    assert etag and not etag.startswith('"')
    got = store.get("ns/u1/CHECKPOINT")
    assert (got.body, got.etag) == (b"hello", etag)
    assert abs(got.last_modified - time.time()) < 120
    info = store.head("ns/u1/CHECKPOINT")
    assert (info.key, info.size, info.etag) == ("ns/u1/CHECKPOINT", 5, etag)

    etag2 = store.put("ns/u1/CHECKPOINT", b"world!")
    assert etag2 != etag
    assert store.get("ns/u1/CHECKPOINT").body == b"world!"
    assert store.head("ns/u1/CHECKPOINT").size == 6


def test_empty_body(store):
    etag = store.put("empty", b"")
    assert store.get("empty").body == b""
    assert store.head("empty").etag == etag


def test_missing_key_is_not_found(store):
    with pytest.raises(NotFound):
        store.get("nope")
    with pytest.raises(NotFound):
        store.head("nope/deeper")
    store.put("file", b"x")
    with pytest.raises(NotFound):
        store.get("file/child")
    store.put("dir/child", b"x")
    with pytest.raises(NotFound):  # a "folder" is not an object
        store.head("dir")
    with pytest.raises(NotFound):
        store.get("dir")


def test_put_if_absent(store):
    etag = store.put("log/1", b"first", IF_ABSENT)
    with pytest.raises(PreconditionFailed):
        store.put("log/1", b"second", IF_ABSENT)
    got = store.get("log/1")
    assert (got.body, got.etag) == (b"first", etag)


def test_put_if_match(store):
    etag = store.put("ptr", b"v1")
    etag2 = store.put("ptr", b"v2", PutCondition(if_match=etag))
    assert store.get("ptr").body == b"v2"
    with pytest.raises(PreconditionFailed):  # stale
        store.put("ptr", b"v3", PutCondition(if_match=etag))
    assert store.get("ptr").body == b"v2"
    with pytest.raises(PreconditionFailed):  # missing key, as S3 does
        store.put("absent", b"v1", PutCondition(if_match=etag2))
    with pytest.raises(NotFound):
        store.get("absent")


def test_put_condition_refuses_both():
    with pytest.raises(ValueError):
        PutCondition(if_none_match=True, if_match="abc")


def test_conditional_get(store):
    etag = store.put("k", b"v1")
    with pytest.raises(NotModified):
        store.get("k", if_none_match=etag)
    store.put("k", b"v2")
    assert store.get("k", if_none_match=etag).body == b"v2"


def test_list_order_prefix_start_after_limit(store):
    names = ["a/b", "a-c", "a/b/c", "a/a", "b", "ns/u1/log/00000000000000000002.json",
             "ns/u1/log/00000000000000000010.json", "ns/u1/log/00000000000000000001.json",
             "ns/u1/logbook", "ns/u10/log/00000000000000000001.json", "ns/u1/CHECKPOINT"]
    # "a/b" and "a/b/c" cannot coexist in a directory; keep the set portable.
    names.remove("a/b")
    for n in names:
        store.put(n, n.encode())
    assert keys(store) == sorted(names)  # UTF-8 byte order: "a-c" < "a/a"
    assert keys(store, "ns/u1/log/") == [
        "ns/u1/log/00000000000000000001.json",
        "ns/u1/log/00000000000000000002.json",
        "ns/u1/log/00000000000000000010.json",
    ]
    assert keys(store, "ns/u1/log") == [
        "ns/u1/log/00000000000000000001.json",
        "ns/u1/log/00000000000000000002.json",
        "ns/u1/log/00000000000000000010.json",
        "ns/u1/logbook",
    ]
    assert keys(store, "ns/u1/log/", start_after="ns/u1/log/00000000000000000001.json") == [
        "ns/u1/log/00000000000000000002.json",
        "ns/u1/log/00000000000000000010.json",
    ]
    assert keys(store, "ns/u1/log/", start_after="ns/u1/log/00000000000000000010.json") == []
    assert keys(store, "ns/u1/log/", limit=2) == [
        "ns/u1/log/00000000000000000001.json",
        "ns/u1/log/00000000000000000002.json",
    ]
    assert keys(store, "ns/u1/log/", limit=0) == []
    assert keys(store, "", start_after="a/zzz", limit=2) == ["b", "ns/u1/CHECKPOINT"]
    assert keys(store, "ns/", start_after="ns/u1/logbook") == ["ns/u10/log/00000000000000000001.json"]
    assert keys(store, "ns/u1/") == [n for n in sorted(names) if n.startswith("ns/u1/")]
    assert keys(store, "zzz/") == []
    infos = {i.key: i for i in store.list("a")}
    assert infos["a/b/c"].size == len(b"a/b/c")
    assert infos["a/b/c"].etag == store.head("a/b/c").etag


def test_list_many_pages(store):
    for i in range(1, 26):
        store.put(f"log/{i:020d}", b"x", IF_ABSENT)
    got = keys(store, "log/", start_after=f"log/{5:020d}")
    assert got == [f"log/{i:020d}" for i in range(6, 26)]
    assert keys(store, "log/", limit=7) == [f"log/{i:020d}" for i in range(1, 8)]


def test_delete_is_idempotent(store):
    store.put("x/y/z", b"1")
    store.delete("x/y/z")
    store.delete("x/y/z")
    store.delete("never/existed")
    with pytest.raises(NotFound):
        store.get("x/y/z")
    assert keys(store) == []
    store.put("x/y/z", b"2")  # the emptied "folders" come back
    assert store.get("x/y/z").body == b"2"


def test_copy_within_store(store):
    etag = store.put("checkpoints/1/db.duckdb", b"data")
    store.copy("checkpoints/1/db.duckdb", "backup/db.duckdb")
    assert store.get("backup/db.duckdb").body == b"data"
    store.put("checkpoints/1/db.duckdb", b"changed")  # the copy does not follow the source
    assert store.get("backup/db.duckdb").body == b"data"
    store.copy("checkpoints/1/db.duckdb", "backup/db.duckdb")  # replaces
    assert store.get("backup/db.duckdb").body == b"changed"
    assert store.get("checkpoints/1/db.duckdb").etag != etag
    with pytest.raises(NotFound):
        store.copy("missing", "elsewhere")


def test_copy_to_another_store(store):
    other = MemoryStore()
    store.put("a/b", b"payload")
    store.copy("a/b", "c/d", dst=other)
    assert other.get("c/d").body == b"payload"
    with pytest.raises(NotFound):
        store.get("c/d")
    with pytest.raises(NotFound):
        store.copy("missing", "x", dst=other)


BAD_KEYS = ["../x", "/abs", "a//b", "a\\b", "", "a/", "a/./b", "a/../b", "a\x00b", "x/.."]
BAD_PREFIXES = ["../", "/abs", "a//", "a\\b", "a/../", "./"]


def test_invalid_keys(store):
    store.put("ok", b"x")
    for bad in BAD_KEYS:
        for call in (
            lambda: store.get(bad),
            lambda: store.head(bad),
            lambda: store.put(bad, b"x"),
            lambda: store.put(bad, b"x", IF_ABSENT),
            lambda: store.delete(bad),
            lambda: store.copy(bad, "ok2"),
            lambda: store.copy("ok", bad),
        ):
            with pytest.raises(InvalidKey):
                call()
    assert keys(store) == ["ok"]
    assert issubclass(InvalidKey, ValueError)


def test_invalid_prefixes(store):
    for bad in BAD_PREFIXES:
        with pytest.raises(InvalidKey):
            list(store.list(bad))
    assert keys(store, "ns/u1/lo") == []  # a partial last segment is a valid prefix


# -- racing writers ---------------------------------------------------------------------------


def _skip_inprocess_moto(store) -> None:
    """In-process moto patches botocore's transport, and that patch is not thread-safe (racing
    threads see 'I/O operation on closed file'); the same races run against moto's HTTP server,
    a real endpoint."""
    if isinstance(store, S3Store) and store.client.meta.endpoint_url.startswith("https://s3.") and not _is_http_server(store):
        pytest.skip("in-process moto is not thread-safe; raced on moto's HTTP server instead")


def _is_http_server(store) -> bool:
    return "127.0.0.1" in store.client.meta.endpoint_url


def _run_threads(n: int, target) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_racing_put_if_absent_has_one_winner(store):
    _skip_inprocess_moto(store)
    def claim(i: int) -> bool:
        try:
            store.put("log/00000000000000000001.json", f"writer {i}".encode(), IF_ABSENT)
            return True
        except PreconditionFailed:
            return False

    results = _run_threads(16, claim)
    assert results.count(True) == 1
    winner = results.index(True)
    assert store.get("log/00000000000000000001.json").body == f"writer {winner}".encode()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_racing_compare_and_swap_counter(store):
    _skip_inprocess_moto(store)
    store.put("counter", b"0")

    def increment(i: int) -> int:
        rng = random.Random(i)
        lost = 0
        for _ in range(10):
            for attempt in range(1000):
                current = store.get("counter")
                try:
                    store.put("counter", b"%d" % (int(current.body) + 1), PutCondition(if_match=current.etag))
                    break
                except PreconditionFailed:
                    lost += 1
                    # Jittered, growing backoff, so losers do not retry in lockstep.
                    time.sleep(rng.uniform(0, 0.03 * 2 ** min(attempt, 3)))
        return lost

    _run_threads(16, increment)
    assert store.get("counter").body == b"160"


# -- directory backend --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_local_racing_processes_claim_each_number_once(tmp_path):
    root = tmp_path / "bucket"
    LocalStore(root)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        claimed = pool.starmap(claim_worker, [(str(root), None, w, 25) for w in range(4)])
    everything = sorted(n for got in claimed for n in got)
    assert everything == list(range(1, 101))  # none twice, none skipped
    store = LocalStore(root)
    for worker, got in enumerate(claimed):
        for n in got:
            assert store.get(f"seq/{n:020d}").body == f"worker {worker}".encode()
    assert not list(root.glob("seq/.tmp-*"))


def _crash_in_rename(root: str) -> None:
    store = LocalStore(Path(root))
    store.put("ns/u1/CHECKPOINT", b"old")

    def die(*args, **kwargs):
        os._exit(3)  # the process dies after the temp file is written, before the rename

    os.replace = die
    store.put("ns/u1/CHECKPOINT", b"new")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_local_put_killed_before_rename_leaves_no_visible_object(tmp_path):
    root = tmp_path / "bucket"
    proc = multiprocessing.get_context("spawn").Process(target=_crash_in_rename, args=(str(root),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 3
    store = LocalStore(root)
    debris = list((root / "ns" / "u1").glob(".tmp-*"))
    assert len(debris) == 1 and debris[0].read_bytes() == b"new"  # the torn put really happened
    assert store.get("ns/u1/CHECKPOINT").body == b"old"
    assert keys(store) == ["ns/u1/CHECKPOINT"]
    store.put("ns/u1/CHECKPOINT", b"newer")
    assert store.get("ns/u1/CHECKPOINT").body == b"newer"


def test_local_put_interrupted_before_link_is_invisible_and_cleaned(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "link", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.put("log/1", b"data", IF_ABSENT)
    monkeypatch.undo()
    with pytest.raises(NotFound):
        store.get("log/1")
    assert keys(store) == []
    assert not list(tmp_path.rglob(".tmp-*"))
    store.put("log/1", b"data", IF_ABSENT)


def test_local_temp_files_locks_and_dotfiles_are_invisible(tmp_path):
    store = LocalStore(tmp_path)
    store.put("ptr", b"1")
    store.put("ptr", b"2", PutCondition(if_match=store.head("ptr").etag))  # creates .locks/
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / f".tmp-{uuid.uuid4().hex}").write_bytes(b"half")
    (tmp_path / f".tmp-{uuid.uuid4().hex}").write_bytes(b"half")
    (tmp_path / "log" / ".DS_Store").write_bytes(b"finder")
    assert (tmp_path / ".locks").is_dir()
    assert keys(store) == ["ptr"]
    assert keys(store, "log/") == []
    assert keys(store, ".") == []
    for reserved in [".locks/x", "a/.tmp-1", ".tmp-2", "log/.DS_Store", ".hidden"]:
        with pytest.raises(InvalidKey):
            store.put(reserved, b"x")


def test_local_layout_and_cleanup(tmp_path):
    store = LocalStore(tmp_path / "b")
    assert store.url == (tmp_path / "b").resolve().as_uri()
    store.put("ns/u1/log/00000000000000000001.json", b"{}")
    assert (tmp_path / "b" / "ns" / "u1" / "log" / "00000000000000000001.json").read_bytes() == b"{}"
    store.delete("ns/u1/log/00000000000000000001.json")
    assert not (tmp_path / "b" / "ns").exists()  # empty parents removed
    assert (tmp_path / "b").is_dir()  # never the root


def test_local_key_cannot_be_object_and_folder(tmp_path):
    store = LocalStore(tmp_path)
    store.put("a", b"1")
    with pytest.raises(InvalidKey):
        store.put("a/b", b"2")
    store.put("c/d", b"3")
    with pytest.raises(InvalidKey):
        store.put("c", b"4")
    with pytest.raises(InvalidKey):
        store.put("c", b"4", IF_ABSENT)
    store.delete("c")  # a folder is not an object: nothing happens
    assert store.get("c/d").body == b"3"


def test_local_list_walks_only_the_prefix_folder(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    store.put("ns/u1/log/00000000000000000001.json", b"1")
    store.put("ns/u2/log/00000000000000000001.json", b"2")
    store.put("other/x", b"3")
    scanned: list[str] = []
    real_scandir = os.scandir

    def spy(path):
        scanned.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    assert keys(store, "ns/u1/log/") == ["ns/u1/log/00000000000000000001.json"]
    assert scanned == [os.path.join("ns", "u1", "log")]


def test_local_copy_hard_links_within_store(tmp_path):
    store = LocalStore(tmp_path)
    store.put("src", b"big checkpoint")
    store.copy("src", "dst/copy")
    assert os.stat(tmp_path / "src").st_ino == os.stat(tmp_path / "dst" / "copy").st_ino
    store.put("src", b"rewritten")  # a put replaces the name, never writes the shared inode
    assert store.get("dst/copy").body == b"big checkpoint"


def test_local_to_memory_copy(tmp_path):
    local, memory = LocalStore(tmp_path), MemoryStore()
    local.put("checkpoints/7/meta.json", b'{"n": 7}')
    local.copy("checkpoints/7/meta.json", "restore/meta.json", dst=memory)
    assert memory.get("restore/meta.json").body == b'{"n": 7}'
    memory.copy("restore/meta.json", "back/meta.json", dst=local)
    assert local.get("back/meta.json").body == b'{"n": 7}'


# -- S3 backend -----------------------------------------------------------------------------------


def test_s3_prefix_scopes_keys(s3_http_bucket, moto_atomic_conditional_writes):
    endpoint, bucket = s3_http_bucket
    scoped = S3Store(bucket, "/tenant/a/", endpoint_url=endpoint)
    whole = S3Store(bucket, endpoint_url=endpoint)
    assert scoped.url == f"s3://{bucket}/tenant/a"
    scoped.put("ns/u1/CHECKPOINT", b"1")
    whole.put("tenant/ab", b"outside")
    assert keys(whole) == ["tenant/a/ns/u1/CHECKPOINT", "tenant/ab"]
    assert keys(scoped) == ["ns/u1/CHECKPOINT"]
    assert keys(scoped, "ns/", start_after="ns/a") == ["ns/u1/CHECKPOINT"]


def test_s3_copy_across_buckets_is_server_side(s3_http_bucket, moto_atomic_conditional_writes):
    endpoint, bucket = s3_http_bucket
    backup_bucket = f"{bucket}-bak"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=backup_bucket)
    src = S3Store(bucket, "live", endpoint_url=endpoint)
    dst = S3Store(backup_bucket, "backup", endpoint_url=endpoint)
    calls: list[str] = []
    for s in (src, dst):
        s.client.meta.events.register("before-call.s3", lambda model, **kw: calls.append(model.name))
    src.put("checkpoints/1/db.duckdb", b"duck")
    calls.clear()
    src.copy("checkpoints/1/db.duckdb", "checkpoints/1/db.duckdb", dst=dst)
    assert calls == ["CopyObject"]  # no GetObject/PutObject: the bytes stayed in S3
    assert dst.get("checkpoints/1/db.duckdb").body == b"duck"
    with pytest.raises(NotFound):
        src.copy("missing", "x", dst=dst)


def test_s3_missing_bucket_is_not_not_found(moto_server):
    store = S3Store(f"absent-{uuid.uuid4().hex[:8]}", endpoint_url=moto_server)
    with pytest.raises(StoreError) as info:
        store.get("k")
    assert not isinstance(info.value, NotFound)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **kwargs):
        yield self._data


def _s3_error(status: int, code: str) -> AWSResponse:
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>injected</Message></Error>"
    return AWSResponse("https://injected.invalid", status, {"Content-Type": "application/xml"}, _Body(body.encode()))


def _inject(store: S3Store, operation: str, outcomes) -> list[int]:
    """Answer the next ``operation`` attempts from ``outcomes`` (responses or exceptions); then go to the server."""
    outcomes = iter(outcomes)
    attempts: list[int] = []

    def before_send(request, **kwargs):
        attempts.append(1)
        outcome = next(outcomes, None)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    store.client.meta.events.register(f"before-send.s3.{operation}", before_send)
    return attempts


@pytest.fixture
def no_backoff(monkeypatch) -> list[float]:
    """botocore keeps its retry policy; only the sleeps between attempts become zero (recorded)."""
    delays: list[float] = []
    real = ExponentialBackoff.delay_amount

    def delay_amount(self, context):
        delays.append(real(self, context))
        return 0

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", delay_amount)
    return delays


@pytest.fixture
def http_store(s3_http_bucket, moto_atomic_conditional_writes) -> S3Store:
    endpoint, bucket = s3_http_bucket
    return S3Store(bucket, endpoint_url=endpoint)


def test_s3_throttling_is_retried_by_botocore_then_succeeds(http_store, no_backoff):
    attempts = _inject(http_store, "PutObject", [_s3_error(503, "SlowDown")] * 3)
    http_store.put("k", b"v", IF_ABSENT)
    assert len(attempts) == 4 and len(no_backoff) == 3
    assert http_store.get("k").body == b"v"


def test_s3_persistent_server_error_ends_as_unavailable(http_store, no_backoff):
    attempts = _inject(http_store, "GetObject", [_s3_error(500, "InternalError")] * 100)
    with pytest.raises(Unavailable) as info:
        http_store.get("k")
    assert len(attempts) == MAX_RETRIES + 1 == 11  # botocore's max_attempts=10 means 10 retries
    assert isinstance(info.value.__cause__, ClientError)


def test_s3_read_timeouts_end_as_unavailable(http_store, no_backoff):
    timeout = ReadTimeoutError(endpoint_url="https://injected.invalid")
    attempts = _inject(http_store, "HeadObject", [timeout] * 100)
    with pytest.raises(Unavailable):
        http_store.head("k")
    assert len(attempts) == MAX_RETRIES + 1


def test_s3_unreachable_endpoint_is_unavailable(no_backoff):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = S3Store("bucket", endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(Unavailable):
        store.head("k")
    assert len(no_backoff) == MAX_RETRIES


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (409, "ConditionalRequestConflict", ConflictInFlight),
        (412, "PreconditionFailed", PreconditionFailed),
        (403, "AccessDenied", StoreError),
    ],
)
def test_s3_conditional_outcomes_are_not_retried(http_store, no_backoff, status, code, error):
    attempts = _inject(http_store, "PutObject", [_s3_error(status, code)] * 100)
    with pytest.raises(error) as info:
        http_store.put("k", b"v", IF_ABSENT)
    assert type(info.value) is error
    assert len(attempts) == 1  # the caller decides what a 409/412 means
    with pytest.raises(NotFound):
        http_store.get("k")


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (412, "PreconditionFailed", PreconditionFailed),
        (409, "ConditionalRequestConflict", ConflictInFlight),
        (404, "NoSuchKey", NotFound),
        (404, "404", NotFound),
        (404, "NoSuchBucket", StoreError),
        (304, "304", NotModified),
        (503, "SlowDown", Unavailable),
        (500, "InternalError", Unavailable),
        (400, "RequestTimeout", Unavailable),
        (429, "TooManyRequests", Unavailable),
        (403, "AccessDenied", StoreError),
    ],
)
def test_map_s3_errors_table(status, code, error):
    exc = ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")
    with pytest.raises(error) as info:
        with map_s3_errors("op", "key"):
            raise exc
    assert type(info.value) is error
    assert info.value.__cause__ is exc


# -- FaultyStore (tests/support) ----------------------------------------------------------------


def test_faulty_store_faults_leave_a_consistent_log(store):
    """Claim 30 log numbers through injected faults, resolving ambiguous puts by reading back."""
    faulty = FaultyStore(store, rate=0.4, seed=3, methods=("put",))
    for n in range(1, 31):
        body = f"entry {n} {uuid.uuid4().hex}".encode()
        for _ in range(100):
            try:
                faulty.put(f"log/{n:020d}", body, IF_ABSENT)
                break
            except (Unavailable, ConflictInFlight):
                continue  # retry the same number; a lost response shows up as 412 below
            except PreconditionFailed:
                assert store.get(f"log/{n:020d}").body == body  # our own earlier attempt landed
                break
    assert keys(store, "log/") == [f"log/{n:020d}" for n in range(1, 31)]
    assert set(faulty.injected) == {"throttle", "server_error", "timeout_before", "timeout_after", "conflict"}
    assert faulty.calls["put"] == 30 + sum(faulty.injected.values())

    faulty.rate = 1.0
    assert faulty.get(f"log/{1:020d}").body.startswith(b"entry 1 ")  # only puts were chosen
    with pytest.raises(ValueError):
        FaultyStore(store, kinds=("meteor",))
