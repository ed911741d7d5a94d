"""Several threads of one process share a replica: writes and reads interleave safely."""

from __future__ import annotations

import threading
import uuid

from membucket import ops

from tests.support.factories import make_mb
from tests.support.state import dump


def test_threads_share_one_replica(tmp_path):
    url = str(tmp_path / "bucket")
    mb = make_mb(url, tmp_path / "cache", compact_after=20)
    errors: list[BaseException] = []
    ids: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            ctx = mb.context("shared", app=f"thread-{n}")
            for i in range(25):
                mid = ops.add(ctx, f"thread {n} memory {i} {uuid.uuid4().hex}").events[0].id
                with lock:
                    ids.append(mid)
                ops.search(ctx, f"thread {n} memory", limit=5)
                ops.list_memories(ctx, size=5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(ids)) == 200
    owner = mb.context("shared")
    assert ops.list_memories(owner, size=1).total == 200
    with mb.namespace("shared").read() as rep:
        warm = dump(rep)
    with make_mb(url, tmp_path / "cold").namespace("shared").read() as rep:
        assert dump(rep) == warm
