from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.functions.conftest import bucket, load, stdout, tokens  # noqa: F401  (shared fixtures)

ROOT = Path(__file__).resolve().parents[2]


def _infra(name: str):
    spec = importlib.util.spec_from_file_location(f"infra_{name}", ROOT / "infra" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def template() -> dict:
    return _infra("cfn").load_template(ROOT / "template.yaml")


@pytest.fixture(scope="session")
def infra():
    return _infra
