"""``POST /api/v1/export`` (streams the caller's bundle) and ``POST /api/v1/import`` (raw bundle body).

Both are owner operations: the ``admin`` scope and a token not bound to an app (an app-bound
token gets 403: an app must not read around its rules, nor overwrite the namespace). The caller
only ever exports or imports its own user's namespace.

The export is written to a temporary file first (so its name can carry the seq it reflects),
then streamed and deleted. The import body is spooled to a temporary file as it arrives, up to
``MEMBUCKET_MAX_IMPORT_BYTES`` (this route's own limit, applied instead of the global
``MEMBUCKET_MAX_BODY_BYTES`` by the guard middleware), then validated and committed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from .. import ops
from ..auth import Identity
from ..caller import IMPORT_PATH, error_response, get_identity, get_state
from ..errors import Forbidden, InvalidInput, TooLarge
from ..ops.models import ImportResult
from .schemas import AUTHENTICATED, ERROR_RESPONSES, RFC3339, AppName, MemoryState, StrictBool, acting
from .uploads import UPLOAD_PATTERN, check_direct_size, direct_import_limit, spool_upload

__all__ = ["router", "ExportIn", "IMPORT_PATH", "export_to_tempfile", "owner_context"]

BUNDLE_TYPES = ("application/zip", "application/octet-stream", "application/x-zip-compressed")

router = APIRouter(responses=ERROR_RESPONSES, dependencies=AUTHENTICATED)

Caller = Annotated[Identity, Depends(get_identity)]
_BINARY = {"schema": {"type": "string", "format": "binary"}}


_TIME: dict[str, Any] = {"format": "date-time"}  # checked in export_to_tempfile: 400 invalid_input, as the CLI's export says


class ExportIn(BaseModel):
    # encrypt=true needs a passphrase
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"properties": {"encrypt": {"const": False}}},
        {"required": ["encrypt", "passphrase"], "properties": {"encrypt": {"const": True}, "passphrase": {"type": "string"}}},
    ]})

    app: AppName | None = Field(None, description="Only memories created by this app")
    state: list[MemoryState] | None = Field(None, max_length=4, description="Only these states (default: every state)")
    created_after: str | None = Field(None, max_length=64, json_schema_extra=_TIME, description="RFC 3339: created at or after")
    created_before: str | None = Field(None, max_length=64, json_schema_extra=_TIME, description="RFC 3339: created before")
    encrypt: StrictBool = Field(False, description="Encrypt with `passphrase` (AES-256-GCM, scrypt): a .mbx file")
    passphrase: str | None = Field(None, min_length=1, max_length=1024, description="Required with encrypt; never stored")


def owner_context(request: Request, identity: Identity):
    """The caller's owner Context: admin scope, and no app (a paused app still hears app_paused)."""
    ctx = acting(request, identity, "admin")
    if ctx.app is not None:
        ops.check_caller(ctx)
        raise Forbidden("export and import are for the namespace owner: use a token not bound to an app")
    return ctx


def export_to_tempfile(ctx, body: ExportIn, tmp_dir: Path):
    """Run the export into a temporary file (rewound); return (file, manifest, filename, media type)."""
    for name, value in (("created_after", body.created_after), ("created_before", body.created_before)):
        if value is not None and not RFC3339.match(value):
            raise InvalidInput(f"{name} is not an RFC 3339 date-time (e.g. 2024-05-01T00:00:00Z): {value[:40]!r}")
    filters = ops.ExportFilters.parse(
        app=body.app, states=[s.value for s in body.state or []], created_after=body.created_after, created_before=body.created_before,
    )
    if body.encrypt and not body.passphrase:
        raise InvalidInput("encrypt needs a passphrase")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    f = tempfile.TemporaryFile(dir=tmp_dir)
    try:
        manifest = ops.export_bundle(ctx, f, filters=filters, passphrase=body.passphrase if body.encrypt else None)
    except BaseException:
        f.close()
        raise
    f.seek(0)
    name = ops.bundle_filename(ctx.user, manifest["seq"], body.encrypt)
    return f, manifest, name, "application/octet-stream" if body.encrypt else "application/zip"


def _chunks(f):
    try:
        yield from iter(lambda: f.read(1 << 20), b"")
    finally:
        f.close()


@router.post(
    "/export", tags=["export"], summary="Export the caller's memory as a bundle", response_class=StreamingResponse,
    responses={200: {"description": "The bundle (.zip, or .mbx when encrypted)", "content": {"application/zip": _BINARY, "application/octet-stream": _BINARY}}},
)
def export(request: Request, identity: Caller, body: ExportIn | None = None):
    """Every memory (with its vector), app, rule, history event and access record, as a zip of
    JSONL parts with a manifest of checksums. Filters narrow the memories (and their history)."""
    ctx = owner_context(request, identity)
    f, _, name, media = export_to_tempfile(ctx, body or ExportIn(), Path(ctx.settings.cache_dir) / "tmp")
    return StreamingResponse(_chunks(f), media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post(
    "/import", tags=["export"], summary="Import a bundle (membucket or OpenMemory export)", response_model=ImportResult,
    openapi_extra={"requestBody": {"required": True, "content": {t: _BINARY for t in BUNDLE_TYPES}}},
    responses={415: {"description": "Not a bundle content type"}},
)
async def import_(
    request: Request,
    identity: Caller,
    mode: Annotated[Literal["merge", "replace"], Query(description="merge: add missing, take newer; replace: become the bundle")] = "merge",
    reembed: Annotated[bool, Query(description="Embed again with this server's embedder (needed when the bundle's differs)")] = False,
    x_membucket_passphrase: Annotated[str | None, Header(max_length=1024, description="Passphrase of an encrypted bundle")] = None,
    upload: Annotated[
        str | None,
        Query(
            max_length=200, json_schema_extra={"pattern": UPLOAD_PATTERN},
            description="Import this upload (POST /api/v1/import/uploads) instead of the body",
        ),
    ] = None,
):
    """The request body is the bundle's bytes (or ``upload`` names one put in the bucket).
    Validated whole before the first write; one commit."""
    ctx = owner_context(request, identity)  # before reading a byte of a possibly large body
    limit = get_state(request).max_import_bytes
    tmp_dir = Path(ctx.settings.cache_dir) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    if upload is not None:
        store = ctx.ns.store
        spool = await run_in_threadpool(spool_upload, store, ctx.user, upload, limit, tmp_dir)
        with spool:
            result = await run_in_threadpool(
                ops.import_bundle, ctx, spool, mode=mode, reembed=reembed, passphrase=x_membucket_passphrase or None,
            )
        await run_in_threadpool(store.delete, upload)  # imported: the upload has served its purpose
        return result
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype not in BUNDLE_TYPES:
        return error_response(415, "unsupported_media_type", f"send the bundle as {' or '.join(BUNDLE_TYPES[:2])}")
    direct = direct_import_limit(ctx.settings)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit():
        check_direct_size(int(length), direct)
    with tempfile.TemporaryFile(dir=tmp_dir) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"bundle above {limit} bytes (MEMBUCKET_MAX_IMPORT_BYTES)", limit=limit)
            check_direct_size(size, direct)
            spool.write(chunk)
        spool.seek(0)
        result = await run_in_threadpool(
            ops.import_bundle, ctx, spool, mode=mode, reembed=reembed, passphrase=x_membucket_passphrase or None,
        )
    return result
