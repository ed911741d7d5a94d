"""``/docs``: Swagger UI served from this server, never from a CDN, so it works offline.

The assets come from the ``swagger-ui-bundle-v2`` package (its ``swagger_ui_bundle`` module),
a dependency of the server install. A build without it (the Lambda layer leaves it out for
size) answers ``/docs`` with a short page that links the schema instead of a blank one.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

__all__ = ["mount_docs", "ASSETS", "assets_dir"]

ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon-32x32.png": "image/png"}


def assets_dir() -> Path | None:
    """The directory holding the Swagger UI files, or None when the package is not installed."""
    spec = find_spec("swagger_ui_bundle")
    if spec is None or not spec.submodule_search_locations:
        return None
    vendor = Path(next(iter(spec.submodule_search_locations))) / "vendor"
    found = sorted(vendor.glob("swagger-ui-*/swagger-ui-bundle.js"))
    return found[-1].parent if found else None


def mount_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Add ``/docs`` and ``/docs/assets/<file>`` (create the app with ``docs_url=None``)."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if assets_dir() is None:
            return HTMLResponse(
                "<!doctype html><title>membucket API</title><p>The interactive docs need the "
                "<code>swagger-ui-bundle-v2</code> package. The API schema is at "
                f'<a href="{openapi_url}">{openapi_url}</a>.</p>'
            )
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> FileResponse:
        folder = assets_dir()
        if folder is None or name not in ASSETS:
            raise HTTPException(404)
        return FileResponse(folder / name, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})
