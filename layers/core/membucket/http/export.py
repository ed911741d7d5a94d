"""The export Lambda function's app: ``POST /api/v1/export`` writes the bundle to the backup
bucket and answers a presigned URL.

API Gateway caps a Lambda response at 6 MB, so the function cannot stream a bundle the way
``membucket serve`` does. It writes the bundle to ``MEMBUCKET_EXPORT_STORE`` (the backup
bucket's ``exports/`` prefix: the only place its IAM policy lets it write) under
``<user>/<random>/membucket-<user>-<seq>.zip`` and answers a GET URL presigned for
``MEMBUCKET_EXPORT_URL_SECONDS``. The caller chooses filters, never the key: nothing a request
says becomes a path. Same auth, scopes and error shape as the REST route.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel

from ..api.bundles import ExportIn, export_to_tempfile, owner_context
from ..api.schemas import AUTHENTICATED, ERROR_RESPONSES
from ..auth import Identity
from ..caller import ServerState, get_identity
from ..errors import ServiceUnavailable
from ..store import ObjectStore, S3Store
from .errors import install_error_handlers
from .guards import GuardMiddleware

__all__ = ["ExportLinkOut", "create_export_app", "upload_and_presign"]

Caller = Annotated[Identity, Depends(get_identity)]


class ExportLinkOut(BaseModel):
    url: str | None
    expires_in: int
    key: str
    filename: str
    bytes: int
    manifest: dict[str, Any]


def upload_and_presign(store: ObjectStore, key: str, f, filename: str, seconds: int) -> str | None:
    """Upload ``f`` (multipart, streamed, on S3) and return a presigned GET URL (None off S3)."""
    if not isinstance(store, S3Store):  # only S3 can presign
        store.put(key, f.read())
        return None
    client = store.client
    full = store.prefix + key
    client.upload_fileobj(f, store.bucket, full)
    return client.generate_presigned_url(
        "get_object",
        Params={"Bucket": store.bucket, "Key": full, "ResponseContentDisposition": f'attachment; filename="{filename}"'},
        ExpiresIn=seconds,
    )


def create_export_app(state: ServerState, export_store: ObjectStore | None, url_seconds: int = 3600) -> FastAPI:
    app = FastAPI(title="membucket export", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.membucket = state
    install_error_handlers(app)
    router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, dependencies=AUTHENTICATED)

    @router.post("/export", response_model=ExportLinkOut, tags=["export"])
    def export(request: Request, identity: Caller, body: ExportIn | None = None):
        ctx = owner_context(request, identity)
        if export_store is None:
            raise ServiceUnavailable("no export store is configured (MEMBUCKET_EXPORT_STORE)")
        f, manifest, name, _ = export_to_tempfile(ctx, body or ExportIn(), Path(ctx.settings.cache_dir) / "tmp")
        with f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(0)
            key = f"{ctx.user}/{uuid.uuid4().hex}/{name}"
            url = upload_and_presign(export_store, key, f, name, url_seconds)
        return {"url": url, "expires_in": url_seconds, "key": key, "filename": name, "bytes": size, "manifest": manifest}

    app.include_router(router)
    app.add_middleware(GuardMiddleware, state=state)
    return app
