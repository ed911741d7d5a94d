"""A backup taken while writers commit: each namespace restores to exactly its recorded sequence.

Four writer threads, each with its own replicas (as separate processes would have), commit to
two namespaces, with automatic compaction every few entries so checkpoints appear and the
pointer moves while the backup reads. The restored namespace must equal a replay of the
source's own log up to the recorded sequence, and replay identically from a cold start.
"""

from __future__ import annotations

import threading

from membucket import ops
from membucket.backup import BackupTarget, load_manifest, restore, take_backup, verify_backup
from membucket.engine.keys import NamespaceKeys
from membucket.engine.log import LogEntry
from membucket.engine.replica import Replica
from membucket.store import open_store

from tests.support.factories import make_mb
from tests.support.state import dump

USERS = ("alice", "bob")


def source_prefix(store, user, seq, cache):
    """The source namespace's state at ``seq``, by replaying its own log from entry 1."""
    keys = NamespaceKeys(user)
    rep = Replica(store, keys, cache)
    rep.loaded = True
    rep.apply([LogEntry.decode(store.get(keys.log(s)).body, s) for s in range(1, seq + 1)])
    return dump(rep)


def test_backup_during_commits_restores_each_namespace_to_its_recorded_sequence(tmp_path):
    src_url = str(tmp_path / "bucket")
    seed = make_mb(src_url, tmp_path / "seed")
    for user in USERS:
        ops.add(seed.context(user, app="cursor"), f"{user} starts with one fact")
    stop = threading.Event()
    errors: list[BaseException] = []
    commits = threading.Semaphore(0)  # released once per commit, so backups start mid-stream

    def writer(n: int) -> None:
        mb = make_mb(src_url, tmp_path / f"w{n}", compact_after=4)
        i = 0
        try:
            while not stop.is_set():
                user = USERS[(n + i) % 2]
                ops.add(mb.context(user, app=f"app{n}"), f"writer {n} fact {i} about topic {i % 7} and {n}")
                commits.release()
                i += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    target = BackupTarget.open(str(tmp_path / "backups"))
    reports = []
    try:
        for _ in range(3):
            for _ in range(12):  # at least 12 more commits before each backup
                assert commits.acquire(timeout=120) or errors, "writers stalled"
            reports.append(take_backup(seed.store, target.root, workers=2))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert all(r.id for r in reports)

    store = open_store(src_url)
    for n, report in enumerate(reports):
        manifest = load_manifest(target.root, report.id)
        restored_url = str(tmp_path / f"restored{n}")
        restore(open_store(restored_url), target.root, cache_dir=tmp_path / "rc", backup_id=report.id)
        for user in USERS:
            seq = manifest.namespaces[user].seq
            assert seq >= 1
            want = source_prefix(store, user, seq, tmp_path / f"p{n}{user}")
            with make_mb(restored_url, tmp_path / f"cold{n}{user}").namespace(user).read() as rep:
                assert dump(rep) == want  # exactly the recorded sequence, replayed from checkpoint + tail
    later = load_manifest(target.root)
    assert sum(later.namespaces[u].seq for u in USERS) > sum(load_manifest(target.root, reports[0].id).namespaces[u].seq for u in USERS)
    assert any(later.namespaces[u].checkpoints for u in USERS)  # compaction ran during the backups
    assert verify_backup(target.root, cache_dir=tmp_path / "v").ok
