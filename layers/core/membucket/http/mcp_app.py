"""The MCP function's app in Lambda: only what API Gateway sends it (``/mcp``, ``/mcp/{proxy+}``).

Why its own app: the shared one (``http/app.py``) builds every REST router, and importing and
building those (~30 modules and their pydantic schemas) cost ~0.5 s of CPU of every MCP cold
start, at Lambda's CPU share (issue 13). The MCP routes, the legacy SSE URLs (a clear 404), the
error handlers and the guards are the same objects the shared app mounts, so answers match.
"""

from __future__ import annotations

from fastapi import FastAPI

from ..caller import ServerState
from ..mcp import mount_mcp, mount_sse
from ..version import __version__
from .errors import install_error_handlers
from .guards import GuardMiddleware

__all__ = ["create_mcp_app"]


def create_mcp_app(state: ServerState) -> FastAPI:
    """The MCP endpoints behind the guards, with no REST, UI, OAuth or docs routes (other functions serve those)."""
    app = FastAPI(title="membucket", version=__version__, docs_url=None, openapi_url=None, redoc_url=None)
    app.state.membucket = state
    install_error_handlers(app)
    mount_mcp(app, state)
    mount_sse(app, state, sessions=False)
    app.add_middleware(GuardMiddleware, state=state)
    return app
