"""``/api/v1``: stats, categories, health (liveness), ready (the store answers) and config (secrets masked)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from .. import ops
from ..auth import Identity
from ..caller import get_identity, get_state
from ..version import __version__
from .schemas import AUTHENTICATED, ERROR_RESPONSES, CategoriesOut, HealthOut, ReadyOut, StatsOut, acting

__all__ = ["router"]

router = APIRouter(responses=ERROR_RESPONSES)

Caller = Annotated[Identity, Depends(get_identity)]


@router.get("/stats", dependencies=AUTHENTICATED, response_model=StatsOut, tags=["system"], summary="Counts of the caller's memory")
def stats(request: Request, identity: Caller):
    """Memories by state, app and category (an app: only what it may see), apps, index and log."""
    ctx = acting(request, identity, "read")
    return ops.stats(ctx)


@router.get("/categories", dependencies=AUTHENTICATED, response_model=CategoriesOut, tags=["memories"], summary="Categories with counts")
def categories(request: Request, identity: Caller):
    ctx = acting(request, identity, "read")
    return {"items": ops.list_categories(ctx)}


@router.get("/health", response_model=HealthOut, tags=["system"], summary="Liveness (no auth)")
def health():
    return {"status": "ok", "version": __version__}


@router.get("/ready", response_model=ReadyOut, tags=["system"], summary="Readiness: the store answers (no auth)")
def ready(request: Request):
    """200 when the store answers a LIST; 503 with Retry-After when it does not."""
    return ops.readiness(get_state(request).mb.store)


@router.get("/config", dependencies=AUTHENTICATED, response_model=dict[str, Any], tags=["system"], summary="Effective settings, secrets masked")
def config(request: Request, identity: Caller):
    ctx = acting(request, identity, "admin")
    ops.check_caller(ctx)  # a paused app-bound admin token gets app_paused here too
    return ops.public_config(ctx.settings)
