"""``/api/v1/apps`` and ``/api/v1/rules``: apps (pause/resume, their memories, what they read) and access rules.

All of it is management: the ``admin`` scope. An app-bound admin token is still refused while
its app is paused, and may read but never change rules or pause state (``owner_only``): an app
must not lift its own restrictions.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from .. import ops
from ..auth import Identity
from ..caller import get_identity
from ..ops.models import App, Page, Rule
from .schemas import APP_PATTERN, AUTHENTICATED, ERROR_RESPONSES, LIMIT_MAX, AccessOut, AppsOut, MemoryListQuery, RuleIn, RulesOut, acting

__all__ = ["router"]

router = APIRouter(responses=ERROR_RESPONSES, dependencies=AUTHENTICATED)

Caller = Annotated[Identity, Depends(get_identity)]
AppPath = Annotated[str, Path(min_length=1, max_length=64, json_schema_extra={"pattern": APP_PATTERN}, description="App (client) name")]


@router.get("/apps", response_model=AppsOut, tags=["apps"], summary="List apps")
def list_apps(request: Request, identity: Caller):
    ctx = acting(request, identity, "admin")
    return {"items": ops.list_apps(ctx)}


@router.get("/apps/{name}", response_model=App, tags=["apps"], summary="Get an app")
def get_app(request: Request, name: AppPath, identity: Caller):
    ctx = acting(request, identity, "admin")
    return ops.get_app(ctx, name)


@router.post("/apps/{name}/pause", response_model=App, tags=["apps"], summary="Pause an app")
def pause_app(request: Request, name: AppPath, identity: Caller):
    """A paused app can neither read nor write. Pausing an unknown name creates the app, paused."""
    ctx = acting(request, identity, "admin")
    return ops.set_app_paused(ctx, name, True)


@router.post("/apps/{name}/resume", response_model=App, tags=["apps"], summary="Resume an app")
def resume_app(request: Request, name: AppPath, identity: Caller):
    ctx = acting(request, identity, "admin")
    return ops.set_app_paused(ctx, name, False)


@router.get("/apps/{name}/memories", response_model=Page, tags=["apps"], summary="Memories an app created")
def app_memories(request: Request, name: AppPath, query: Annotated[MemoryListQuery, Query()], identity: Caller):
    ctx = acting(request, identity, "admin")
    return ops.list_memories(ctx, filters=query.filters([name]), **query.paging())


@router.get("/apps/{name}/access", response_model=AccessOut, tags=["apps"], summary="What an app read")
def app_access(
    request: Request, name: AppPath, identity: Caller, limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 100,
):
    """The app's access-log records (search, list, get, related), newest first."""
    ctx = acting(request, identity, "admin")
    return {"items": ops.access_log(ctx, app=name, limit=limit)}


@router.get("/rules", response_model=RulesOut, tags=["rules"], summary="List access rules")
def list_rules(
    request: Request, identity: Caller,
    app: Annotated[
        str | None,
        Query(min_length=1, max_length=64, json_schema_extra={"pattern": APP_PATTERN}, description="Rules that apply to this app (its own and '*')"),
    ] = None,
):
    ctx = acting(request, identity, "admin")
    return {"items": ops.list_rules(ctx, app=app)}


@router.post("/rules", status_code=201, response_model=Rule, tags=["rules"], summary="Add an access rule")
def add_rule(request: Request, body: RuleIn, identity: Caller):
    """Allow or deny an app (or '*') all memories, one memory, or one category. Deny wins; an app
    with any allow rule sees only what its allow rules match. Adding an existing rule returns it."""
    ctx = acting(request, identity, "admin")
    return ops.add_rule(ctx, body.app, body.effect, body.scope, body.target)


@router.delete("/rules/{rule_id}", status_code=204, response_class=Response, tags=["rules"], summary="Delete an access rule")
def delete_rule(
    request: Request,
    rule_id: Annotated[str, Path(min_length=1, max_length=64, json_schema_extra={"format": "uuid"})],
    identity: Caller,
):
    ctx = acting(request, identity, "admin")
    ops.delete_rule(ctx, rule_id)
    return Response(status_code=204)
