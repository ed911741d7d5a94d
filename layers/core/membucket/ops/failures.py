"""One mapping from any failure below the surfaces to a ``MembucketError`` (one code per failure).

REST, MCP and the CLI each call ``as_membucket_error`` at their single boundary, so the same
failure shows the same code everywhere:

    MembucketError          itself
    store.Unavailable       StoreUnavailable   store_unavailable  503
    store.InvalidKey        InvalidInput       invalid_input      400
    store.Misconfigured     StoreFailed        store_error        503 (the message names what to set)
    other store.StoreError  StoreFailed        store_error        503
    anything else           None: a bug; the surface answers 500 / internal_error and logs it
"""

from __future__ import annotations

from typing import overload

from ..errors import InvalidInput, MembucketError, StoreFailed, StoreUnavailable
from ..store import InvalidKey, Misconfigured, StoreError, Unavailable

__all__ = ["as_membucket_error"]


@overload
def as_membucket_error(exc: MembucketError | StoreError) -> MembucketError: ...
@overload
def as_membucket_error(exc: BaseException) -> MembucketError | None: ...
def as_membucket_error(exc: BaseException) -> MembucketError | None:
    """The library error a surface should show for ``exc``; None when ``exc`` is unexpected."""
    if isinstance(exc, MembucketError):
        return exc
    if isinstance(exc, Unavailable):
        return StoreUnavailable("the store is unavailable; retry later")
    if isinstance(exc, InvalidKey):
        return InvalidInput(str(exc))
    if isinstance(exc, Misconfigured):
        return StoreFailed(str(exc))
    if isinstance(exc, StoreError):
        return StoreFailed(f"the store failed ({type(exc).__name__}: {exc}); retry later")
    return None
