"""``membucket --version`` answers without loading the commands or the store libraries
(timings are in ``membucket bench cli``, not here)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_version_loads_neither_boto3_nor_duckdb_nor_the_commands():
    code = (
        "import sys; sys.argv = ['membucket', '--version']\n"
        "from membucket.launch import main; main()\n"
        "heavy = [m for m in ('boto3', 'duckdb', 'membucket.cli', 'membucket.client', 'pydantic') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("membucket, version ")


def test_the_command_starts_at_the_light_entry_point():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["membucket"] == "membucket.launch:main"
    done = subprocess.run([sys.executable, "-m", "membucket", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("membucket, version ")
