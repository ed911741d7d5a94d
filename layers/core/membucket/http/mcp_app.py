"""The MCP function's app in Lambda: only what API Gateway sends it (``/mcp``, ``/mcp/{proxy+}``).

Why its own app: the shared one (``http/app.py``) builds every REST router, and importing and
building those (~30 modules and their pydantic schemas) cost ~0.5 s of CPU of every MCP cold
start, at Lambda's CPU share (issue 13). The MCP routes, the legacy SSE URLs (a clear 404), the
error handlers and the guards are the same objects the shared app mounts, so answers match.
A plain Starlette app, not FastAPI: it has no FastAPI routes, and importing FastAPI cost another
~0.25 s of the same cold start (``tests/functions/test_lazy_imports.py`` checks it stays out).
"""

from __future__ import annotations

from starlette.applications import Starlette

from ..caller import ServerState
from ..mcp import mount_mcp, mount_sse
from .errors import install_error_handlers
from .guards import GuardMiddleware

__all__ = ["create_mcp_app"]


def create_mcp_app(state: ServerState) -> Starlette:
    """The MCP endpoints behind the guards, with no REST, UI, OAuth or docs routes (other functions serve those)."""
    app = Starlette()
    app.state.membucket = state
    install_error_handlers(app, validation=False)
    mount_mcp(app, state)
    mount_sse(app, state, sessions=False)
    app.add_middleware(GuardMiddleware, state=state)
    return app
