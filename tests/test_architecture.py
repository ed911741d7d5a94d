"""The import rules docs/architecture.md states hold for the code, and no module imports in a cycle.

The rules are read from the doc's ``rules`` block, so the page and the test cannot drift apart.
Imports inside functions and under ``TYPE_CHECKING`` count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG_DIR = ROOT / "layers" / "core" / "membucket"
DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 500


def read_rules() -> dict[str, set[str]]:
    block = re.search(r"```rules\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/architecture.md has no ```rules block"
    rules: dict[str, set[str]] = {}
    for line in block.group(1).splitlines():
        if line.strip():
            part, _, allowed = line.partition(":")
            rules[part.strip()] = {a for a in allowed.split() if a != "-"}
    return rules


def modules() -> dict[str, Path]:
    out = {}
    for path in PKG_DIR.rglob("*.py"):
        rel = path.relative_to(PKG_DIR).with_suffix("")
        parts = ["membucket", *rel.parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, mods: dict[str, Path], run_packages: bool = False) -> set[str]:
    """Modules of the package that ``name`` imports; ``from pkg import mod`` names ``pkg.mod``
    (and ``pkg`` too with ``run_packages``: importing a submodule runs its package's __init__)."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in mods]
            targets = subs if subs and len(subs) == len(node.names) and not run_packages else [mod, *subs]
        for t in targets:
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != name and t.startswith("membucket"):
                found.add(t)
    return found


def part_of(module: str) -> str:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "membucket"


MODS = modules()
GRAPH = {m: imports_of(m, p, MODS) for m, p in MODS.items()}
# For cycles, ``from . import sibling`` also counts as importing the package (its __init__ runs).
RUN_GRAPH = {m: {t for t in imports_of(m, p, MODS, run_packages=True) if t != "membucket"} for m, p in MODS.items()}


def test_rules_name_every_part_of_the_package():
    rules = read_rules()
    parts = {part_of(m) for m in MODS} - {"membucket", "__main__"}
    assert parts <= set(rules), f"parts missing from docs/architecture.md: {sorted(parts - set(rules))}"
    for part, allowed in rules.items():
        assert allowed <= set(rules), f"{part} names unknown parts {sorted(allowed - set(rules))}"


def test_every_import_follows_the_layer_rules():
    rules = read_rules()
    broken = []
    for module, targets in sorted(GRAPH.items()):
        src = part_of(module)
        if src in ("membucket", "__main__"):
            continue
        for target in sorted(targets):
            dst = part_of(target)
            if dst == src:
                continue
            if dst == "membucket":
                broken.append(f"{module} imports the package root (import membucket.version or the module itself)")
            elif dst not in rules.get(src, set()):
                broken.append(f"{module} -> {target} ({src} may not import {dst})")
    assert not broken, "imports that break docs/architecture.md:\n" + "\n".join(broken)


def test_no_import_cycles_between_modules():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def strong(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in RUN_GRAPH[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in RUN_GRAPH:
        if v not in index:
            strong(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_functions_import_only_the_aws_glue():
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        for node in ast.walk(ast.parse(app.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("membucket"):
                assert node.module == "membucket.aws" or node.module.startswith("membucket.aws."), f"{app}: imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("membucket") or alias.name.startswith("membucket.aws"), f"{app}: imports {alias.name}"


@pytest.mark.parametrize("module", sorted(MODS))
def test_modules_stay_small_or_say_why(module):
    path = MODS[module]
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) <= MAX_LINES:
        return
    head = "\n".join(lines[:30]).lower()
    assert "over 500 lines" in head, f"{path.relative_to(ROOT)} has {len(lines)} lines and its docstring does not say why (write 'over 500 lines because ...')"
