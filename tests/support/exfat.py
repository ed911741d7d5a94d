"""A real exFAT filesystem for the directory store's portable protocol: a loop-mounted image.

Needs root, /dev/fuse, a free loop device and the exfat-fuse and exfatprogs packages (.ci/run
installs them). Where any is missing the tests that ask for it skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

_TOOLS = ("mkfs.exfat", "mount.exfat-fuse", "losetup", "umount")


def _why_not() -> str | None:
    if os.name != "posix" or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "mounting an exFAT image needs root"
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)} (apt-get install exfat-fuse exfatprogs)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    return None


def _run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def make_image(path: Path, size: str = "512M") -> None:
    """A freshly formatted exFAT image file."""
    _run("truncate", "-s", size, str(path))
    _run("mkfs.exfat", str(path))


def mount_image(image: Path, mount: Path) -> str:
    """Attach ``image`` to a loop device and mount it at ``mount``; return the loop device."""
    loop = _run("losetup", "-f", "--show", str(image))
    try:
        _run("mount.exfat-fuse", loop, str(mount))
    except BaseException:
        subprocess.run(["losetup", "-d", loop], capture_output=True)
        raise
    return loop


def unmount_image(mount: Path, loop: str) -> None:
    for _ in range(50):  # a child process may still hold a file for a moment
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    subprocess.run(["losetup", "-d", loop], capture_output=True)


def require_exfat() -> None:
    reason = _why_not()
    if reason:
        pytest.skip(f"no exFAT filesystem: {reason}")


@pytest.fixture(scope="session")
def exfat_mount(tmp_path_factory):
    """A freshly formatted 512 MB exFAT filesystem mounted through FUSE; unmounted at the end."""
    require_exfat()
    base = tmp_path_factory.mktemp("exfat")
    image, mount = base / "stick.img", base / "mnt"
    mount.mkdir()
    try:
        make_image(image)
        loop = mount_image(image, mount)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        pytest.skip(f"no exFAT filesystem: {exc}")
    try:
        yield mount
    finally:
        unmount_image(mount, loop)


@pytest.fixture
def exfat_dir(exfat_mount) -> Path:
    """A fresh directory on the exFAT filesystem."""
    d = exfat_mount / f"t-{uuid.uuid4().hex[:12]}"
    d.mkdir()
    return d
