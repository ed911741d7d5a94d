"""The HTTP surface: the one ASGI app (REST, MCP and UI routers behind the guards), server state
and ``membucket serve``; the export Lambda's app. Nothing below this package imports it."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .serve import ServeRefused, build_state, is_loopback, run

__all__ = ["ServeRefused", "build_state", "create_app", "is_loopback", "run"]

# Imported on first use (PEP 562): the MCP Lambda function builds its own app (mcp_app.py) and
# must not pay for importing every REST router through this package.
_WHERE = {"create_app": "app", "ServeRefused": "serve", "build_state": "serve", "is_loopback": "serve", "run": "serve"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
