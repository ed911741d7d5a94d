"""Many writer processes, one namespace: every add lands exactly once, every replica agrees."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import pickle
import uuid

import pytest
from membucket.engine.keys import NamespaceKeys
from membucket.engine.log import LogEntry

WRITERS = 8
ADDS = 50


def _writer(store_url, endpoint, cache_dir, worker, barrier, results):
    import os

    if endpoint:
        os.environ["AWS_ACCESS_KEY_ID"] = "testing"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
        os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    from membucket import ops

    from tests.support.factories import make_mb
    from tests.support.state import dump

    # Correctness under contention, not latency: a writer may lose many rounds on a slow endpoint.
    mb = make_mb(store_url, cache_dir, endpoint_url=endpoint, compact_after=0, commit_timeout_seconds=240, commit_attempts=2000)
    ctx = mb.context("shared", app=f"writer-{worker}")
    ids = []
    try:
        for i in range(ADDS):
            ev = ops.add(ctx, f"writer {worker} note {i} token {uuid.uuid4().hex}").events[0]
            assert ev.event == "ADD"
            ids.append(ev.id)
    except BaseException as exc:  # report instead of leaving the others at the barrier
        barrier.abort()
        results.put((worker, repr(exc), None, None))
        raise
    barrier.wait(timeout=300)
    with mb.namespace("shared").read() as rep:
        state = dump(rep)
    results.put((worker, ids, hashlib.sha256(pickle.dumps(state)).hexdigest(), state["seq"]))


def _run(store_url, endpoint, tmp_path):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WRITERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(store_url, endpoint, str(tmp_path / f"cache{w}"), w, barrier, results))
        for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    out = []
    for _ in procs:
        out.append(results.get(timeout=600))
        assert out[-1][2] is not None, f"writer {out[-1][0]} failed: {out[-1][1]}"
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return out


def _check(out, store):
    ids = [i for _, worker_ids, _, _ in out for i in worker_ids]
    assert len(ids) == WRITERS * ADDS == len(set(ids))
    assert len({digest for _, _, digest, _ in out}) == 1, "replicas disagree"
    keys = NamespaceKeys("shared")
    entries = [LogEntry.decode(store.get(i.key).body, keys.seq_of_log(i.key)) for i in store.list(keys.log_prefix)]
    seqs = [e.seq for e in entries]
    assert seqs == list(range(1, len(seqs) + 1)) == list(range(1, out[0][3] + 1))
    assert len({e.txid for e in entries}) == len(entries)
    added = [op["id"] for e in entries for op in e.ops if op["op"] == "memory.add"]
    assert sorted(added) == sorted(ids)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_eight_processes_on_the_directory_store(tmp_path):
    from membucket.store import open_store

    url = str(tmp_path / "bucket")
    _check(_run(url, None, tmp_path), open_store(url))


@pytest.fixture(params=["moto", "localstack"])
def s3_server_bucket(request):
    """(endpoint, bucket) on moto's HTTP server and on LocalStack's S3 (a second implementation)."""
    return request.getfixturevalue("s3_http_bucket" if request.param == "moto" else "localstack_bucket")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_eight_processes_on_an_s3_server(tmp_path, s3_server_bucket):
    from membucket.store import open_store

    endpoint, bucket = s3_server_bucket
    url = f"s3://{bucket}/mb"
    _check(_run(url, endpoint, tmp_path), open_store(url, endpoint_url=endpoint))


@pytest.mark.slow
def test_eight_processes_on_an_exfat_stick(tmp_path, exfat_dir):
    """exFAT has no hard links: the directory store's portable protocol under the same load."""
    from membucket.store import LocalStore, open_store

    url = str(exfat_dir / "bucket")
    assert LocalStore(url).caps.protocol == "portable"
    _check(_run(url, None, tmp_path), open_store(url))
