"""A starved writer's turn on a directory store (store/priority.py): seen by every other handle,
exclusive between starved writers, bounded by a deadline, and gone with a crashed process."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

from membucket.store import LocalStore
from membucket.store.priority import WriterPriority

PREFIX = "ns/alice/log/"


def test_a_held_turn_is_seen_by_other_handles_and_released_on_exit(tmp_path):
    store = LocalStore(tmp_path / "bucket")
    turn, other = store.writer_priority(PREFIX), store.writer_priority(PREFIX)
    assert turn is not None and other is not None
    assert not other.claimed()
    with turn.hold(time.monotonic() + 5) as got:
        assert got
        assert other.claimed()  # another handle (another writer) sees it
        assert not store.writer_priority("ns/bob/log/").claimed()  # per namespace
    assert not other.claimed()


def test_a_second_starved_writer_waits_for_the_turn_no_longer_than_its_deadline(tmp_path):
    store = LocalStore(tmp_path / "bucket")
    first, second = store.writer_priority(PREFIX), store.writer_priority(PREFIX)
    with first.hold(time.monotonic() + 5):
        t0 = time.monotonic()
        with second.hold(time.monotonic() + 0.2) as got:
            assert not got
        assert 0.2 <= time.monotonic() - t0 < 2
    released = threading.Event()

    def hold_briefly():
        with first.hold(time.monotonic() + 5):
            released.wait(5)

    t = threading.Thread(target=hold_briefly)
    t.start()
    time.sleep(0.05)
    threading.Timer(0.2, released.set).start()
    with second.hold(time.monotonic() + 5) as got:
        assert got  # taken once the first writer let go
    t.join()


def _hold_forever(root: str, ready) -> None:
    with LocalStore(root).writer_priority(PREFIX).hold(time.monotonic() + 60):
        ready.set()
        time.sleep(60)


def test_the_turn_dies_with_a_killed_process(tmp_path):
    root = str(tmp_path / "bucket")
    store = LocalStore(root)
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_forever, args=(root, ready), daemon=True)
    proc.start()
    try:
        assert ready.wait(60)
        assert store.writer_priority(PREFIX).claimed()
    finally:
        proc.kill()
        proc.join(10)
    assert not store.writer_priority(PREFIX).claimed()


def test_without_a_shared_lock_mode_there_is_no_turn(tmp_path):
    assert LocalStore(tmp_path / "portable", portable=True).writer_priority(PREFIX) is None  # filelock



def test_the_lock_folder_is_made_on_first_use(tmp_path):
    turn = WriterPriority.under(tmp_path / "bucket" / ".locks", PREFIX)  # nothing is made yet
    assert not turn.path.parent.exists()
    assert not turn.claimed()  # the first check makes the folder and the lock file
    assert turn.path.is_file()
