"""Many users through one process: replicas and cached checkpoint files stay within their bounds
(least recently used go first), a replica in use is never evicted, and answers stay right."""

import threading

import pytest
from membucket import Membucket, Settings, ops
from membucket.engine import objcache
from membucket.engine.limits import MB, cache_limits
from membucket.engine.namespace import ReplicaRegistry

from tests.support.embedders import HashEmbedder

USERS = 20


@pytest.fixture(autouse=True)
def _restore_budget():
    before = objcache.budget()
    yield
    objcache.set_budget(before)


def one_process(bucket, cache, registry, **settings) -> Membucket:
    return Membucket(
        Settings(store=bucket, cache_dir=str(cache), categorize_async=False, **settings),
        embedder=HashEmbedder(), categorizer=None, registry=registry,
    )


def seed(bucket, tmp_path, users=USERS, per_user=6):
    """Each user gets memories and a checkpoint, written by another 'process'."""
    writer = one_process(bucket, tmp_path / "writer", ReplicaRegistry())
    for u in range(users):
        ctx = writer.context(f"user{u}", app="cursor")
        for i in range(per_user):
            ops.add(ctx, f"user {u} fact {i}: the colour of item {i} is shade {u * 100 + i}")
        assert writer.compact(f"user{u}", gc=False).published
    return writer


def checkpoint_files(cache):
    return [p for p in (cache / "objects").iterdir() if not p.name.startswith(".tmp-")]


def test_many_users_stay_within_replica_and_disk_bounds(tmp_path):
    bucket = str(tmp_path / "bucket")
    seed(bucket, tmp_path)
    cache = tmp_path / "server"
    registry = ReplicaRegistry(max_replicas=8)
    mb = one_process(bucket, cache, registry)
    first = mb.context("user0", app="cursor")
    with first.ns.read() as rep:
        one_replica = rep.footprint
    files_per_user = sum(p.stat().st_size for p in checkpoint_files(cache))
    registry.configure(max_bytes=int(one_replica * 5.5))  # memory for ~5 of them
    objcache.set_budget(files_per_user * 6)
    peak_replicas = peak_bytes = peak_disk = 0
    for rnd in range(2):
        for u in range(USERS):
            ctx = mb.context(f"user{u}", app="cursor")
            i = rnd + 3
            text = f"user {u} fact {i}: the colour of item {i} is shade {u * 100 + i}"
            hits = ops.search(ctx, text, limit=3)
            assert hits and hits[0].text == text
            peak_replicas = max(peak_replicas, len(registry.replicas()))
            peak_bytes = max(peak_bytes, registry.footprint())
            peak_disk = max(peak_disk, objcache.usage(cache / "objects"))
    assert peak_replicas <= 6  # the byte bound bites before the count bound
    assert peak_bytes <= int(one_replica * 5.5) + one_replica  # within one load of the bound
    assert peak_disk <= files_per_user * 6 + files_per_user
    assert registry.evictions >= 2 * USERS - 6


def test_count_bound_and_lru_order(tmp_path):
    bucket = str(tmp_path / "bucket")
    seed(bucket, tmp_path, users=5, per_user=3)
    registry = ReplicaRegistry(max_replicas=3)
    mb = one_process(bucket, tmp_path / "server", registry)
    for u in (0, 1, 2):
        ops.list_memories(mb.context(f"user{u}", app="cursor"))
    ops.list_memories(mb.context("user0", app="cursor"))  # user0 becomes the most recent
    ops.list_memories(mb.context("user3", app="cursor"))  # evicts user1, the least recent
    kept = {r.keys.user for r in registry.replicas()}
    assert kept == {"user0", "user2", "user3"}


def test_a_replica_in_use_is_never_evicted(tmp_path):
    bucket = str(tmp_path / "bucket")
    seed(bucket, tmp_path, users=4, per_user=3)
    registry = ReplicaRegistry(max_replicas=1)
    mb = one_process(bucket, tmp_path / "server", registry)
    held = mb.namespace("user0")
    inside, leave = threading.Event(), threading.Event()
    seen = {}

    def reader():
        with held.read() as rep:
            inside.set()
            leave.wait(10)
            seen["count"] = rep.con.execute("SELECT count(*) FROM memories").fetchone()[0]

    t = threading.Thread(target=reader)
    t.start()
    assert inside.wait(10)
    for u in (1, 2, 3):  # other users through the same process while user0's request runs
        assert len(ops.list_memories(mb.context(f"user{u}", app="cursor")).items) == 3
    assert "user0" in {r.keys.user for r in registry.replicas()}
    leave.set()
    t.join(10)
    assert seen["count"] == 3


def test_an_evicted_replica_held_by_a_request_reloads(tmp_path):
    bucket = str(tmp_path / "bucket")
    seed(bucket, tmp_path, users=2, per_user=3)
    registry = ReplicaRegistry(max_replicas=1)
    mb = one_process(bucket, tmp_path / "server", registry)
    ctx0 = mb.context("user0", app="cursor")
    assert len(ops.list_memories(ctx0).items) == 3
    ops.list_memories(mb.context("user1", app="cursor"))  # evicts user0's replica
    assert not ctx0.ns.replica.loaded
    ops.add(ctx0, "a fourth fact after eviction")  # the old handle reloads, then commits
    assert len(ops.list_memories(mb.context("user0", app="cursor")).items) == 4


def test_limits_come_from_the_lambda_function(monkeypatch):
    lam = {"AWS_LAMBDA_FUNCTION_NAME": "McpFunction", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048"}
    limits = cache_limits(Settings(ephemeral_storage_mb=2048), lam)
    assert limits.replica_bytes == (2048 - 450) // 2 * MB
    assert limits.disk_bytes == (2048 - 160) * 3 // 4 * MB
    small = cache_limits(Settings(ephemeral_storage_mb=512), {**lam, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"})
    assert small.replica_bytes == 64 * MB and small.disk_bytes == (512 - 160) * 3 // 4 * MB
    local = cache_limits(Settings(), {})
    assert (local.replica_bytes, local.disk_bytes, local.max_replicas) == (1024 * MB, 2048 * MB, 64)
    explicit = cache_limits(Settings(replica_memory_mb=100, cache_disk_mb=50, max_replicas=5), lam)
    assert (explicit.replica_bytes, explicit.disk_bytes, explicit.max_replicas) == (100 * MB, 50 * MB, 5)
