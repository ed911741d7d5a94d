"""The directory store's portable protocol (no hard links, no fcntl): processes, crashes, stale
locks, refusals, and a USB stick moved between machines. The shared contract runs in
test_conformance.py (``local-portable`` and ``local-exfat``)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from membucket.store import IF_ABSENT, LocalStore, NotFound, PreconditionFailed, PutCondition, dirfs
from membucket.store.dirfs import UnsupportedFilesystem

from tests.store.workers import cas_worker, claim_worker

MODES = ["portable", "exfat"]


@pytest.fixture(params=MODES)
def root(request, tmp_path) -> tuple[Path, bool | None]:
    """A store root and the ``portable`` argument that gives the portable protocol there."""
    if request.param == "exfat":
        return request.getfixturevalue("exfat_dir") / "bucket", None
    return tmp_path / "bucket", True


def _keys(store) -> list[str]:
    return [i.key for i in store.list("")]


@pytest.mark.slow
def test_racing_processes_claim_each_number_once_and_count(root):
    path, portable = root
    store = LocalStore(path, portable=portable)
    store.put("counter", b"0")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        claimed = pool.starmap(claim_worker, [(str(path), portable, w, 25, "portable") for w in range(4)])
        pool.starmap(cas_worker, [(str(path), portable, 25) for _ in range(4)])
    assert sorted(n for got in claimed for n in got) == list(range(1, 101))  # none twice, none skipped
    for worker, got in enumerate(claimed):
        for n in got:
            assert store.get(f"seq/{n:020d}").body == f"worker {worker}".encode()
    assert store.get("counter").body == b"100"  # no compare-and-swap lost an increment
    assert not [p for p in path.rglob(".*") if p.name.startswith((".tmp-", ".new-"))]


def _die_in_replace(root: str, portable: bool | None) -> None:
    store = LocalStore(Path(root), portable=portable)
    store.put("ns/u1/CHECKPOINT", b"old")

    def die(*args, **kwargs):
        os._exit(3)  # the new version is staged as .new-CHECKPOINT; the rename over the name never runs

    os.replace = die
    store.put("ns/u1/CHECKPOINT", b"new", PutCondition(if_match=store.head("ns/u1/CHECKPOINT").etag))


@pytest.mark.slow
def test_crash_between_staging_and_replace_is_rolled_forward(root):
    path, portable = root
    proc = multiprocessing.get_context("spawn").Process(target=_die_in_replace, args=(str(path), portable))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 3
    staged = path / "ns" / "u1" / ".new-CHECKPOINT"
    assert staged.read_bytes() == b"new"  # the crash really happened there
    store = LocalStore(path, portable=portable)
    old = store.get("ns/u1/CHECKPOINT")
    assert old.body == b"old"  # a whole version, never a partial one
    # The replace was decided (If-Match checked) under the lock: the next lock holder finishes
    # it first, so a compare-and-swap against what a reader saw before now fails, as it must.
    with pytest.raises(PreconditionFailed):
        store.put("ns/u1/CHECKPOINT", b"lost update", PutCondition(if_match=old.etag))
    assert store.get("ns/u1/CHECKPOINT").body == b"new"
    assert not staged.exists()
    assert _keys(store) == ["ns/u1/CHECKPOINT"]


def test_replace_torn_by_the_filesystem_loses_nothing(root):
    """FAT-family renames over a name are 'remove the old entry, rename the new one': a pulled
    plug between the two leaves no object under the name, only the staged next version."""
    path, portable = root
    store = LocalStore(path, portable=portable)
    store.put("ns/u1/CHECKPOINT", b"v1")
    store.put("ns/u1/tokens", b"t")
    (path / "ns" / "u1" / "CHECKPOINT").unlink()
    (path / "ns" / "u1" / ".new-CHECKPOINT").write_bytes(b"v2")
    assert _keys(LocalStore(path, portable=portable)) == ["ns/u1/CHECKPOINT", "ns/u1/tokens"]
    assert store.get("ns/u1/CHECKPOINT").body == b"v2"

    (path / "ns" / "u1" / "CHECKPOINT").unlink()
    (path / "ns" / "u1" / ".new-CHECKPOINT").write_bytes(b"v3")
    assert store.get("ns/u1/CHECKPOINT").body == b"v3"  # get finds it too
    (path / "ns" / "u1" / "CHECKPOINT").unlink()
    (path / "ns" / "u1" / ".new-CHECKPOINT").write_bytes(b"v4")
    assert store.head("ns/u1/CHECKPOINT").size == 2
    with pytest.raises(PreconditionFailed):
        store.put("ns/u1/CHECKPOINT", b"x", IF_ABSENT)
    assert not (path / "ns" / "u1" / ".new-CHECKPOINT").exists()


def test_failed_replace_leaves_nothing_staged(root, monkeypatch):
    path, portable = root
    store = LocalStore(path, portable=portable)
    etag = store.put("ptr", b"v1")

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(Exception, match="No space left"):
        store.put("ptr", b"v2", PutCondition(if_match=etag))
    monkeypatch.undo()
    assert store.get("ptr").body == b"v1"
    assert not [p.name for p in path.iterdir() if p.name.startswith((".tmp-", ".new-"))]
    store.put("ptr", b"v3")  # a failure in-process is not rolled forward later
    assert store.get("ptr").body == b"v3"


def test_small_objects_are_named_by_content(root):
    path, portable = root
    store = LocalStore(path, portable=portable)
    e1 = store.put("p", b'{"seq": 1}')
    e2 = store.put("p", b'{"seq": 2}')  # same size, same second, maybe a reused file id
    assert e1 != e2
    assert store.put("p", b'{"seq": 1}') == e1  # as S3: equal content, equal ETag
    big = os.urandom(200_000)
    etag = store.put("big", big)
    assert store.head("big").etag == etag == store.get("big").etag


_HOLD = """
import sys, time
from pathlib import Path
from membucket.store import LocalStore
store = LocalStore(Path(sys.argv[1]), portable={portable})
with store._key_lock("ptr"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_lock_holder_does_not_wedge_the_store(root):
    path, portable = root
    store = LocalStore(path, portable=portable)
    etag = store.put("ptr", b"v1")
    proc = subprocess.Popen([sys.executable, "-c", _HOLD.format(portable=portable), str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        os.kill(proc.pid, signal.SIGKILL)  # a crash with the lock held
        proc.wait(30)
        started = time.monotonic()
        store.put("ptr", b"v2", PutCondition(if_match=etag))
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
    assert store.get("ptr").body == b"v2"
    assert list((path / ".locks").iterdir())  # lock files stay: they are names, not locks


def test_links_store_and_portable_store_share_a_layout(tmp_path):
    """A store copied between a stick and a disk reads the same in either protocol."""
    LocalStore(tmp_path).put("ns/u1/log/1", b"entry")
    portable = LocalStore(tmp_path, portable=True)
    assert portable.get("ns/u1/log/1").body == b"entry"
    portable.put("ns/u1/log/2", b"next", IF_ABSENT)
    assert [i.key for i in LocalStore(tmp_path).list("ns/")] == ["ns/u1/log/1", "ns/u1/log/2"]


# -- refusals ---------------------------------------------------------------------------------


def test_network_filesystems_are_refused_naming_the_guarantee(tmp_path, monkeypatch):
    monkeypatch.setattr(dirfs, "filesystem_type", lambda path: "nfs4")
    with pytest.raises(UnsupportedFilesystem, match=r"network filesystem \(nfs4\): create-if-absent and compare-and-swap"):
        LocalStore(tmp_path / "nfs")


def test_locks_that_do_not_exclude_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(dirfs, "_try_lock", lambda path, kind: True)
    with pytest.raises(UnsupportedFilesystem, match="file locks do not exclude each other here: compare-and-swap is not atomic"):
        LocalStore(tmp_path / "fakelocks")
    assert not [p for p in (tmp_path / "fakelocks").iterdir()]  # the probe cleans up


def test_a_rename_that_cannot_replace_is_refused(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise FileExistsError(17, "File exists")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(UnsupportedFilesystem, match="a rename cannot replace a file"):
        LocalStore(tmp_path / "noreplace")


def test_probe_names_the_filesystem_and_protocol(tmp_path):
    caps = LocalStore(tmp_path).caps
    assert caps.fs_type != "unknown" and caps.protocol == "links" and caps.lock == "flock"
    forced = LocalStore(tmp_path / "p", portable=True).caps
    assert (forced.protocol, forced.lock) == ("portable", "filelock")
    assert dirfs.sync_folder(tmp_path / "Dropbox" / "membucket") == "Dropbox"
    assert dirfs.sync_folder(tmp_path / "OneDrive - Contoso" / "mb") == "OneDrive"
    assert dirfs.sync_folder(tmp_path) is None


def test_exfat_is_probed_as_portable_and_case_insensitive(exfat_dir):
    caps = LocalStore(exfat_dir).caps
    assert (caps.hard_links, caps.case_insensitive, caps.lock) == (False, True, "flock")
    assert caps.fs_type == "fuseblk"


def test_readonly_missing_object_is_not_found(root):
    path, portable = root
    store = LocalStore(path, portable=portable)
    with pytest.raises(NotFound):
        store.get("ns/none/CHECKPOINT")


def test_describe_names_the_filesystem_and_warns_about_sync_folders(tmp_path):
    root = tmp_path / "Dropbox" / "membucket"
    store = LocalStore(root)
    info = dirfs.describe(store.root, store.caps)
    assert info["filesystem"] == store.caps.fs_type and info["protocol"] == "links"
    assert len(info["warnings"]) == 1 and "Dropbox folder" in info["warnings"][0]
    assert dirfs.describe(tmp_path, LocalStore(tmp_path).caps)["warnings"] == []


@pytest.mark.slow
def test_readers_never_miss_a_key_being_replaced(root):
    """On FAT-family filesystems and through FUSE a rename over a name removes the old entry
    before the new one is named: a reader that opens the name in between must still see a
    whole version (it checks again under the key's lock), never NotFound."""
    import threading

    path, portable = root
    store = LocalStore(path, portable=portable)
    versions = {b"%d" % i * (1 + i % 7) for i in range(300)}
    store.put("ns/u1/CHECKPOINT", b"0")
    done = threading.Event()
    problems: list[str] = []

    def write() -> None:
        for i in range(300):
            store.put("ns/u1/CHECKPOINT", b"%d" % i * (1 + i % 7))
        done.set()

    def read() -> None:
        while not done.is_set():
            try:
                body = store.get("ns/u1/CHECKPOINT").body
                if body not in versions and body != b"0":
                    problems.append(f"torn {body[:20]!r}")
                store.head("ns/u1/CHECKPOINT")
                if [i.key for i in store.list("ns/u1/")] != ["ns/u1/CHECKPOINT"]:
                    problems.append("list missed the key")
            except NotFound:
                problems.append("NotFound")

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not problems, problems[:5]


def test_users_differing_only_in_case_never_share_a_namespace_on_exfat(exfat_dir):
    from membucket.store import InvalidKey

    store = LocalStore(exfat_dir / "bucket")
    store.put("ns/alice/log/00000000000000000001.json", b"alice's entry", IF_ABSENT)
    for call in (
        lambda: store.get("ns/Alice/log/00000000000000000001.json"),
        lambda: store.put("ns/Alice/log/00000000000000000001.json", b"Alice's entry", IF_ABSENT),
        lambda: store.head("ns/ALICE/log/00000000000000000001.json"),
        lambda: list(store.list("ns/Alice/log/")),
    ):
        with pytest.raises(InvalidKey, match="differ only in case"):
            call()
    assert store.get("ns/alice/log/00000000000000000001.json").body == b"alice's entry"
    store.delete("ns/alice/log/00000000000000000001.json")  # the folders go with the last key
    store.put("ns/Alice/log/00000000000000000001.json", b"now Alice's", IF_ABSENT)
    assert LocalStore(exfat_dir / "bucket").get("ns/Alice/log/00000000000000000001.json").body == b"now Alice's"
    with pytest.raises(InvalidKey):
        store.get("ns/alice/log/00000000000000000001.json")


def test_case_guard_checks_each_folder_once(tmp_path, monkeypatch):
    guard = dirfs.CaseGuard(tmp_path)
    (tmp_path / "ns" / "alice").mkdir(parents=True)
    reads: list[str] = []
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda p: reads.append(str(p)) or real(p))
    guard.check(["ns", "alice", "log", "1"])
    assert len(reads) == 3  # the root (for ns), ns (for alice), alice (log: not there yet, fine)
    (tmp_path / "ns" / "alice" / "log").mkdir()
    for _ in range(3):
        guard.check(["ns", "alice", "log", "1"])
    assert len(reads) == 4  # only log's spelling was still unknown
    guard.forget(tmp_path / "ns" / "alice")
    guard.check(["ns", "alice", "log", "1"])
    assert len(reads) == 6
