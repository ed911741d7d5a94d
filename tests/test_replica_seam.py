"""Ops read the replica only through ``engine.queries`` (and its siblings): the seam holds.

No module of ``ops/`` or ``backup/`` touches the replica's DuckDB connection (``.con``) or its
FAISS index (``rep.index``, ``.index.index``), and none writes SQL: filters and access rules
are typed objects compiled to SQL in ``engine.predicates``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import membucket.engine.queries as queries
import pytest

PACKAGE = Path(queries.__file__).resolve().parents[1]
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET|WHERE)\b|\bWHERE\b", re.S)
MODULES = sorted(p for part in ("ops", "backup") for p in (PACKAGE / part).rglob("*.py"))


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr == "con":
                found.append(f"line {node.lineno}: .con")
            elif node.attr == "index" and (
                (isinstance(node.value, ast.Attribute) and node.value.attr == "index")
                or (isinstance(node.value, ast.Name) and node.value.id in ("rep", "replica"))
            ):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"line {node.lineno}: SQL text {node.value[:40]!r}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_ops_do_not_touch_the_replica_connection_or_index(path):
    assert _offences(path) == []


def test_the_check_catches_what_it_forbids(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('rep.con.execute("SELECT id FROM memories WHERE id = ?")\nrep.index.index.reconstruct(1)\nrep.index.size\n')
    found = _offences(bad)
    assert {f.split(':')[0] for f in found} == {'line 1', 'line 2', 'line 3'}
    assert any('SQL text' in f for f in found) and any(f.endswith('.con') for f in found)


def test_acl_memo_survives_a_data_change_but_not_an_acl_change():
    memo = {("app", "a"): (False,), ("rules", "a"): (), ("allowed", "x"): 1, ("write-order",): 2}
    queries.forget(memo, acl=False)
    assert set(memo) == {("app", "a"), ("rules", "a")}
    queries.forget(memo, acl=True)
    assert memo == {}
