"""Every bench default works from a clone alone and writes outside tracked files."""

from __future__ import annotations

import subprocess
from pathlib import Path

from membucket_bench.cli import bench
from membucket_bench.locomo import load, queries_of, turns_of

ROOT = Path(__file__).resolve().parents[1]


def _defaults():
    for name, command in bench.commands.items():
        for param in command.params:
            if isinstance(param.default, str):
                yield name, param.name, param.default


def test_no_default_reaches_outside_the_repo():
    for name, param, default in _defaults():
        assert "shared" not in default and ".." not in Path(default).parts, (name, param, default)
    assert "../shared" not in (ROOT / "README.md").read_text()


def test_results_go_to_an_untracked_place_unless_out_says_otherwise():
    outs = [(name, default) for name, param, default in _defaults() if param == "out"]
    assert outs
    for name, default in outs:
        ignored = subprocess.run(["git", "check-ignore", "-q", default], cwd=ROOT).returncode == 0
        assert ignored, f"bench {name} writes {default}, a tracked path"


def test_the_shipped_locomo_sample_is_the_default_and_loads():
    [default] = [d for name, param, d in _defaults() if name == "locomo" and param == "data_path"]
    assert Path(default) == ROOT / "bench/data/conversation_sample.json"
    data = load(default)
    turns = turns_of(data[0])
    queries = queries_of(data[0], {t.dia_id for t in turns})
    assert len(turns) == 16 and len(queries) == 11
    assert {q.category for q in queries} == {1, 2, 3, 4}
