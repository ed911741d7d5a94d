"""The one ASGI app: REST under /api/v1, MCP under /mcp, the web UI at /, served by uvicorn
locally and Mangum in Lambda. The guards of ``guards.py`` run before any route.
"""

from __future__ import annotations

from fastapi import FastAPI

from ..api import router
from ..caller import ServerState
from ..mcp import mount_mcp, mount_sse
from ..ui import mount_ui
from ..version import __version__
from .docs import mount_docs
from .errors import install_error_handlers
from .guards import LOOPBACK_HOSTS, GuardMiddleware, RateLimiter
from .methods import MethodCheck
from .oauth import oauth_routes
from .openapi import install_openapi

__all__ = ["LOOPBACK_HOSTS", "GuardMiddleware", "RateLimiter", "create_app"]


def create_app(state: ServerState, sse_sessions: bool = True) -> FastAPI:
    """``sse_sessions=False`` where no request can hold a stream open (Lambda): the legacy SSE URLs answer 404."""
    app = FastAPI(
        title="membucket",
        version=__version__,
        description="One memory for every LLM client, kept in a bucket you control.",
        docs_url=None,  # served by http/docs.py from local assets, not a CDN
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.membucket = state
    install_error_handlers(app)
    app.include_router(router)
    mount_mcp(app, state)
    mount_sse(app, state, sessions=sse_sessions)
    mount_ui(app)
    app.router.routes.extend(oauth_routes(state))
    mount_docs(app)
    install_openapi(app, state.mb.settings, state.auth_required)
    app.add_middleware(MethodCheck, api=app)
    app.add_middleware(GuardMiddleware, state=state)
    return app
