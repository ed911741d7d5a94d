"""How long the ``membucket`` command takes as a person uses it: start (--version, --help,
``add --help``), a one-shot ``add`` and a one-shot ``search`` with the offline model, each a fresh
process on a directory store, beside the floor they cannot go under: a fresh process that only
loads the model and embeds one sentence (``model``).

Wall time and CPU time (user + sys of the child) are the median of ``repeat`` runs, after one
warm-up run of each case (page cache, the prototype cache). ``baseline`` names another source
tree (e.g. ``git archive main layers/core | tar -x -C /tmp/main``, then ``/tmp/main/layers/core``)
run the same way with ``PYTHONPATH``, so a change is measured against what it replaces in the
same minutes. The load average is recorded: on a shared machine the figures are upper bounds.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["run", "CASES"]

CASES = {
    "version": ["--version"],
    "help": ["--help"],
    "add_help": ["add", "--help"],
    "add": ["add", "Dana's cat is called Miso", "--no-dedupe"],
    "search": ["search", "what is the cat called"],
}
# The floor for add and search: a new interpreter that loads the offline model and embeds once.
MODEL_ONLY = "from membucket.embed.minilm import MiniLMEmbedder; MiniLMEmbedder().embed(['what is the cat called'])"


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _measure(env: dict[str, str], repeat: int, label: str) -> dict[str, dict[str, float]]:
    runs = {name: [sys.executable, "-m", "membucket", *args] for name, args in CASES.items()}
    runs["model"] = [sys.executable, "-c", MODEL_ONLY]
    subprocess.run([sys.executable, "-m", "membucket", "add", "warm-up: the model and the bucket exist"], env=env, check=True, capture_output=True)
    figures = {}
    for name, argv in runs.items():
        _once(argv, env)  # warm-up
        samples = [_once(argv, env) for _ in range(repeat)]
        figures[name] = {
            "wall_s": round(statistics.median(w for w, _ in samples), 3),
            "cpu_s": round(statistics.median(c for _, c in samples), 3),
        }
        print(f"{label:>9} {name:>8}: wall {figures[name]['wall_s']:.3f} s, cpu {figures[name]['cpu_s']:.3f} s", flush=True)
    return figures


def run(repeat: int = 5, out: str | None = None, baseline: str | None = None) -> dict:
    load_before = os.getloadavg()
    result: dict = {
        "benchmark": "cli", "repeat": repeat, "python": sys.version.split()[0], "machine": platform.machine(),
        "cpus": os.cpu_count(), "cases": {**{k: " ".join(v) for k, v in CASES.items()}, "model": MODEL_ONLY},
    }
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": None, **({"baseline": baseline} if baseline else {})}
        for label, tree in trees.items():
            env = {
                **os.environ,
                "MEMBUCKET_STORE": str(Path(tmp) / label.replace(" ", "-") / "bucket"),
                "MEMBUCKET_CACHE_DIR": str(Path(tmp) / label.replace(" ", "-") / "cache"),
            }
            if tree:
                env["PYTHONPATH"] = os.pathsep.join(p for p in (tree, env.get("PYTHONPATH")) if p)
            figures = _measure(env, repeat, label)
            if tree:
                result["baseline"] = {"tree": tree, "figures": figures}
            else:
                result["figures"] = figures
    result["loadavg_1m"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    print(f"load average (1 min) before / after: {result['loadavg_1m'][0]} / {result['loadavg_1m'][1]} on {os.cpu_count()} CPUs")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result
