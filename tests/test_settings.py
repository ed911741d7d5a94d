"""Every ``MEMBUCKET_*`` variable is a ``Settings`` field: read in one place, shown by doctor, applied from it."""

from __future__ import annotations

import ast
from pathlib import Path

import faiss
from membucket.client import Membucket
from membucket.engine import index
from membucket.settings import Settings

PKG_DIR = Path(__file__).resolve().parents[1] / "layers" / "core" / "membucket"


def _env_reads(path: Path) -> list[str]:
    """``MEMBUCKET_*`` names read through ``os.environ``/``os.getenv``, literally or via a module constant."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
              for t in n.targets if isinstance(t, ast.Name)}

    def name_of(node) -> str:
        value = node.value if isinstance(node, ast.Constant) else consts.get(node.id) if isinstance(node, ast.Name) else None
        return value if isinstance(value, str) and value.startswith("MEMBUCKET_") else ""

    found = []
    for node in ast.walk(tree):
        src = ast.unparse(node.func if isinstance(node, ast.Call) else node.value) if isinstance(node, (ast.Call, ast.Subscript)) else ""
        if isinstance(node, ast.Call) and src in ("os.environ.get", "os.getenv", "environ.get", "getenv") and node.args:
            found.append(name_of(node.args[0]))
        elif isinstance(node, ast.Subscript) and src in ("os.environ", "environ"):
            found.append(name_of(node.slice))
    return [f"{path.relative_to(PKG_DIR)}: {n}" for n in found if n]


def test_no_module_reads_membucket_variables_but_settings():
    reads = [r for p in sorted(PKG_DIR.rglob("*.py")) if p.name != "settings.py" for r in _env_reads(p)]
    assert not reads, "read these through Settings instead:\n" + "\n".join(reads)


def test_faiss_threads_come_from_the_settings(tmp_path):
    try:
        mb = Membucket(Settings(store=str(tmp_path / "b"), cache_dir=str(tmp_path / "c"), faiss_threads=2))
        mb.namespace("alice")  # set with the engine, on its first use (a Lambda init imports no FAISS)
        assert faiss.omp_get_max_threads() == 2
    finally:
        index.set_search_threads(1)
    assert faiss.omp_get_max_threads() == 1


def test_backup_store_is_the_older_name_of_backup_url(monkeypatch):
    monkeypatch.setenv("MEMBUCKET_BACKUP_STORE", "s3://old/name")
    assert Settings().backup_url == "s3://old/name"
    monkeypatch.setenv("MEMBUCKET_BACKUP_URL", "s3://new/name")
    assert Settings().backup_url == "s3://new/name"  # the current name wins
    assert Settings(backup_url="s3://in/code").backup_url == "s3://in/code"
