"""The app's exception handlers: every error becomes the one JSON shape ``{"error": {"code", "message", "details"?}}``.

Library and store errors go through ``ops.failures.as_membucket_error`` (the mapping MCP and the
CLI use too), so a failure has one code everywhere: store outages are 503 ``store_unavailable``,
other store failures 503 ``store_error``, both with Retry-After. Request validation is 422
``validation_error``; anything unexpected is 500 ``internal_error`` (logged, message generic).
A 500 for bad input is a bug. Plain Starlette: the MCP function's app has no FastAPI routes, so
it neither imports FastAPI nor needs the request-validation handler (``validation=False``).
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from ..caller import error_response
from ..errors import MembucketError, ServiceUnavailable, StoreFailed
from ..ops.failures import as_membucket_error
from ..store import StoreError

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 421: "misdirected_request",
    422: "validation_error", 429: "rate_limited", 503: "unavailable",
}


def _membucket_response(exc: MembucketError):
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, ServiceUnavailable) else None
    if exc.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(exc.status, exc.code, exc.message, exc.details or None, headers)


def install_error_handlers(app: Starlette, validation: bool = True) -> None:
    """Every error in the one JSON shape; ``validation`` adds FastAPI's request-validation errors (422)."""

    async def _membucket(request: Request, exc: Exception):
        assert isinstance(exc, MembucketError)
        return _membucket_response(exc)

    async def _store(request: Request, exc: Exception):
        assert isinstance(exc, StoreError)
        err = as_membucket_error(exc)
        if isinstance(err, StoreFailed):
            log.exception("store error")
        return _membucket_response(err)

    async def _http(request: Request, exc: Exception):
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error")

    app.add_exception_handler(MembucketError, _membucket)
    app.add_exception_handler(StoreError, _store)
    if validation:
        from fastapi.exceptions import RequestValidationError

        async def _validation(request: Request, exc: Exception):
            assert isinstance(exc, RequestValidationError)
            errors = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors()][:20]
            return error_response(422, "validation_error", "the request is not valid", {"errors": errors})

        app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
