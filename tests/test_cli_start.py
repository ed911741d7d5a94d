"""The ``membucket`` command loads only what the command in hand needs: ``--version`` and
``--help`` load neither the store libraries nor the engine, and a one-shot ``add`` on a
directory store loads neither boto3 nor the web stack (timings are in ``membucket bench cli``,
not here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What a command that only prints must not load (each costs tens to hundreds of milliseconds).
HEAVY = (
    "boto3", "duckdb", "faiss", "numpy", "pydantic", "pydantic_settings", "rich", "openai", "mcp", "fastapi",
    "membucket.client", "membucket.ops", "membucket.settings", "membucket.store",
)


def _loaded_after(argv: list[str], watch: tuple[str, ...], env: dict[str, str] | None = None) -> tuple[list[str], subprocess.CompletedProcess]:
    """Run the real entry point with ``argv`` in a fresh interpreter; which of ``watch`` it imported."""
    code = (
        "import json, sys\n"
        f"sys.argv = ['membucket', *{argv!r}]\n"
        "from membucket.launch import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print('LOADED=' + json.dumps([m for m in {watch!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("LOADED="))
    return json.loads(line.removeprefix("LOADED=")), done


def test_version_loads_neither_boto3_nor_duckdb_nor_the_commands():
    loaded, done = _loaded_after(["--version"], (*HEAVY, "click", "membucket.cli"))
    assert loaded == []
    assert done.stdout.startswith("membucket, version ")


@pytest.mark.parametrize("argv", [["--help"], ["add", "--help"], ["search", "--help"], ["export", "--help"],
                                  ["service", "--help"], ["token", "create", "--help"], ["bench", "--help"]])
def test_help_loads_no_store_engine_model_or_web_library(argv):
    loaded, done = _loaded_after(argv, HEAVY)
    assert loaded == []
    assert "Usage: membucket" in done.stdout


def test_help_still_lists_every_command_and_the_plugins():
    _, done = _loaded_after(["--help"], HEAVY)
    for name in ("add", "search", "serve", "service", "backup", "token", "shell", "bench"):
        assert f"\n  {name} " in done.stdout


def test_one_shot_add_on_a_directory_store_loads_no_s3_client_nor_web_stack(tmp_path):
    env = {
        **os.environ,
        "MEMBUCKET_STORE": str(tmp_path / "bucket"), "MEMBUCKET_CACHE_DIR": str(tmp_path / "cache"),
        "MEMBUCKET_CATEGORIZER": "off",
    }
    loaded, done = _loaded_after(["add", "the cat is called Miso"], ("boto3", "botocore", "fastapi", "mcp", "openai", "uvicorn"), env)
    assert loaded == []
    assert '"event": "ADD"' in done.stdout


def test_the_command_starts_at_the_light_entry_point():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["membucket"] == "membucket.launch:main"
    done = subprocess.run([sys.executable, "-m", "membucket", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("membucket, version ")
