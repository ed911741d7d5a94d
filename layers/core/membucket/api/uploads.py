"""Large imports through the bucket: ``POST /api/v1/import/uploads`` answers a presigned PUT URL;
the client puts the bundle there, then ``POST /api/v1/import?upload=<key>`` imports it.

Why: a synchronous Lambda invocation carries at most 6 MB (a binary body is base64-encoded on the
way, so about 4.5 MB of bundle), so the direct route refuses more with a 413 that names this one
(``direct_import_limit``). The object lives under ``uploads/<user>/`` of the store, is read only by
its own user's import, is deleted once imported, and a lifecycle rule expires what is left behind.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from .. import ops
from ..auth import Identity
from ..caller import get_identity
from ..errors import Conflict, Forbidden, InvalidInput, NotFoundError, TooLarge
from ..settings import Settings
from ..store import NotFound, ObjectStore
from ..store.s3 import S3Store
from .schemas import AUTHENTICATED, ERROR_RESPONSES, acting

__all__ = ["router", "UPLOADS_PREFIX", "UPLOAD_PATTERN", "UploadOut", "direct_import_limit", "spool_upload", "check_direct_size"]

UPLOADS_PREFIX = "uploads/"
LAMBDA_DIRECT_IMPORT_BYTES = 6 * 1_048_576 * 3 // 4  # 6 MB of event, base64: 4.5 MiB of bundle
UPLOAD_PATTERN = r"^uploads/[A-Za-z0-9][A-Za-z0-9._@+-]*/[0-9a-f]{32}\.bundle$"  # uploads/<user>/<hex>.bundle
_KEY = re.compile(UPLOAD_PATTERN)

router = APIRouter(responses=ERROR_RESPONSES, dependencies=AUTHENTICATED)
Caller = Annotated[Identity, Depends(get_identity)]


class UploadOut(BaseModel):
    url: str = Field(description="PUT the bundle's bytes here (no credentials needed) before it expires")
    method: str = "PUT"
    key: str = Field(description="Pass as POST /api/v1/import?upload=<key>")
    expires_in: int = Field(description="Seconds the URL stays valid")
    max_bytes: int = Field(description="Largest bundle the import accepts")


def direct_import_limit(settings: Settings) -> int:
    """The largest body ``POST /api/v1/import`` takes directly: Lambda's payload cap there, else
    ``max_import_bytes`` (``Settings.max_direct_import_bytes`` overrides both)."""
    if settings.max_direct_import_bytes is not None:
        return settings.max_direct_import_bytes
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return min(LAMBDA_DIRECT_IMPORT_BYTES, settings.max_import_bytes)
    return settings.max_import_bytes


def check_direct_size(size: int, limit: int) -> None:
    if size > limit:
        raise TooLarge(
            f"bundle above {limit} bytes for a direct import; upload it first: POST /api/v1/import/uploads "
            "answers a URL to PUT the bundle to, then POST /api/v1/import?upload=<key>",
            limit=limit, route="/api/v1/import/uploads",
        )


def _s3(store: ObjectStore):
    if getattr(store, "client", None) is None:
        raise Conflict("uploads need an S3 store; send the bundle to POST /api/v1/import directly")
    return store


@router.post("/import/uploads", tags=["export"], summary="A URL to upload a large bundle to", response_model=UploadOut)
def create_upload(request: Request, identity: Caller):
    """For bundles above the direct route's limit: PUT the bundle to ``url``, then import ``key``."""
    ctx = acting(request, identity, "admin")  # the owner only, as bundles.owner_context (no import: a cycle)
    if ctx.app is not None:
        ops.check_caller(ctx)
        raise Forbidden("export and import are for the namespace owner: use a token not bound to an app")
    store = _s3(ctx.ns.store)
    key = f"{UPLOADS_PREFIX}{ctx.user}/{uuid.uuid4().hex}.bundle"
    seconds = ctx.settings.upload_url_seconds
    url = store.client.generate_presigned_url(
        "put_object", Params={"Bucket": store.bucket, "Key": store.prefix + key}, ExpiresIn=seconds,
    )
    return UploadOut(url=url, key=key, expires_in=seconds, max_bytes=ctx.settings.max_import_bytes)


def spool_upload(store: ObjectStore, user: str, key: str, limit: int, tmp_dir) -> BinaryIO:
    """The uploaded bundle ``key`` of ``user`` in a rewound temporary file (the caller closes it)."""
    if not _KEY.match(key):
        raise InvalidInput("upload must be a key answered by POST /api/v1/import/uploads")
    if not key.startswith(f"{UPLOADS_PREFIX}{user}/"):  # another user's: as unknown as a key never issued
        raise NotFoundError("no such upload (expired, already imported, or never put)")
    try:
        size = store.head(key).size
    except NotFound:
        raise NotFoundError("no such upload (expired, already imported, or never put)") from None
    if size > limit:
        raise TooLarge(f"bundle above {limit} bytes (MEMBUCKET_MAX_IMPORT_BYTES)", limit=limit)
    f: BinaryIO = tempfile.TemporaryFile(dir=tmp_dir)
    try:
        if isinstance(store, S3Store):  # streamed to disk, never whole in memory
            store.client.download_fileobj(store.bucket, store.prefix + key, f)
        else:
            f.write(store.get(key).body)
        f.seek(0)
    except BaseException:
        f.close()
        raise
    return f
