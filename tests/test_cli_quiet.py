"""A successful command is quiet: its result on stdout, nothing on stderr (no teardown noise)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_commands_that_open_duckdb_write_nothing_to_stderr(tmp_path):
    env = {**os.environ, "MEMBUCKET_STORE": str(tmp_path / "bucket"), "HOME": str(tmp_path)}
    exe = [sys.executable, "-m", "membucket"]
    for args in (["add", "Dana's cat is called Miso"], ["search", "cat"], ["list"]):
        done = subprocess.run([*exe, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()
        assert done.stderr == "", f"{args[0]} wrote to stderr:\n{done.stderr[:500]}"
