"""The web UI: static HTML, CSS and ES modules served by the same ASGI app at ``/`` (no build step).

Everything the UI shows comes from the REST API with the caller's own token, so it can show
nothing the API would not. The pages are served with a strict Content-Security-Policy (only
this origin's scripts, styles and fetches; no framing), so an injected string cannot run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["mount_ui", "STATIC_DIR", "SECURITY_HEADERS"]

STATIC_DIR = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}


class _WithHeaders:
    """Adds the security headers to every response of the wrapped ASGI app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower() not in SECURITY_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _index(scope: Scope, receive: Receive, send: Send) -> None:
    await FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")(scope, receive, send)


def mount_ui(app: FastAPI) -> None:
    """``/`` is the single page; ``/ui/*`` its assets. Hash routes (#/memories) need no server routes."""
    app.router.routes.append(Route("/", endpoint=_WithHeaders(_index), methods=["GET", "HEAD"], include_in_schema=False))
    app.router.routes.append(Mount("/ui", app=_WithHeaders(StaticFiles(directory=STATIC_DIR)), name="ui"))
