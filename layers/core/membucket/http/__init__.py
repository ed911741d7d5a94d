"""The HTTP surface: the one ASGI app (REST, MCP and UI routers behind the guards), server state
and ``membucket serve``; the export Lambda's app. Nothing below this package imports it."""

from .app import create_app
from .serve import ServeRefused, build_state, is_loopback, run

__all__ = ["ServeRefused", "build_state", "create_app", "is_loopback", "run"]
