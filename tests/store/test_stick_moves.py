"""A USB stick moved between machines: the server stops on one, the stick is unplugged and
mounted elsewhere (another device, another path), and another process finds everything."""

from __future__ import annotations

import multiprocessing as mp
import subprocess

import pytest

from tests.support.exfat import make_image, mount_image, require_exfat, unmount_image

ADDS = 12


def _first_machine(store_url: str, cache_dir: str, results) -> None:
    from membucket import ops

    from tests.support.factories import make_mb
    from tests.support.state import dump

    # compact_after=5: checkpoints and their pointer (a compare-and-swap) land on the stick too.
    mb = make_mb(store_url, cache_dir, compact_after=5)
    ctx = mb.context("alice", app="laptop")
    ids = [ops.add(ctx, f"note {i} about the stick").events[0].id for i in range(ADDS)]
    with mb.namespace("alice").read() as rep:
        results.put((ids, dump(rep)))


def _second_machine(store_url: str, cache_dir: str, results) -> None:
    from membucket import ops

    from tests.support.factories import make_mb
    from tests.support.state import dump

    mb = make_mb(store_url, cache_dir, compact_after=5)
    with mb.namespace("alice").read() as rep:
        state = dump(rep)
    ops.add(mb.context("alice", app="desktop"), "written on the second machine")
    results.put(state)


def _in_process(target, *args):
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, results))
    proc.start()
    out = results.get(timeout=300)
    proc.join(60)
    assert proc.exitcode == 0
    return out


@pytest.mark.slow
def test_a_stick_moved_between_machines_loses_nothing(tmp_path):
    require_exfat()
    image = tmp_path / "stick.img"
    first, second = tmp_path / "media" / "alice" / "STICK", tmp_path / "mnt" / "usb"
    first.mkdir(parents=True)
    second.mkdir(parents=True)
    try:
        make_image(image, "128M")
        loop = mount_image(image, first)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        pytest.skip(f"no exFAT filesystem: {exc}")
    try:
        ids, before = _in_process(_first_machine, str(first / "membucket"), str(tmp_path / "cache1"))
    finally:
        unmount_image(first, loop)  # server stopped, stick pulled out
    loop = mount_image(image, second)  # another machine: another device, another path
    try:
        after = _in_process(_second_machine, str(second / "membucket"), str(tmp_path / "cache2"))
        assert after == before
        assert len(ids) == ADDS and all(i in str(after) for i in ids)
        checkpoints = list((second / "membucket" / "ns" / "alice" / "checkpoints").iterdir())
        assert checkpoints, "compaction ran on the stick"
    finally:
        unmount_image(second, loop)
