"""How long the ``membucket`` command takes as a person uses it: start (--version, --help), a
one-shot ``add`` and a one-shot ``search`` with the offline model, each a fresh process.

Wall time and CPU time (user + sys of the child) are the median of ``repeat`` runs.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["run"]


def _once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "membucket", *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(repeat: int = 5, out: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MEMBUCKET_STORE": str(Path(tmp) / "bucket"), "MEMBUCKET_CACHE_DIR": str(Path(tmp) / "cache")}
        _once(["add", "warm-up: the model and the bucket exist"], env)
        cases = {
            "version": ["--version"],
            "help": ["--help"],
            "add": ["add", "Dana's cat is called Miso", "--no-dedupe"],
            "search": ["search", "what is the cat called"],
        }
        figures = {}
        for name, args in cases.items():
            runs = [_once(args, env) for _ in range(repeat)]
            figures[name] = {
                "wall_s": round(statistics.median(w for w, _ in runs), 3),
                "cpu_s": round(statistics.median(c for _, c in runs), 3),
            }
            print(f"{name:>8}: wall {figures[name]['wall_s']:.3f} s, cpu {figures[name]['cpu_s']:.3f} s")
    result = {"benchmark": "cli", "repeat": repeat, "python": sys.version.split()[0], "figures": figures}
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result
