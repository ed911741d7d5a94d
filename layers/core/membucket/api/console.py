"""``/api/v1`` routes the web UI needs beyond the rest: who am I, a daily timeline, recent reads,
preferences, client snippets.

Same authentication and scopes as every other route: the UI has no side door.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import ops
from ..auth import Identity
from ..caller import get_identity, get_state
from ..clients import TOKEN_PLACEHOLDER, client_configs
from ..ops.validate import TIMELINE_MAX_DAYS as MAX_DAYS
from .schemas import AUTHENTICATED, ERROR_RESPONSES, LIMIT_MAX, AccessOut, Scope, TimeZone, acting, json_number

__all__ = ["router"]

router = APIRouter(responses=ERROR_RESPONSES, dependencies=AUTHENTICATED)

Caller = Annotated[Identity, Depends(get_identity)]

class MeOut(BaseModel):
    user: str
    app: str | None = Field(description="The app this token is bound to; null for the owner")
    scopes: list[Scope]
    auth_required: bool = Field(description="Whether this server requires a bearer token")


class TimelinePoint(BaseModel):
    date: str = Field(description="Day in the requested time zone, YYYY-MM-DD")
    added: int
    accessed: int = Field(description="Memories shown to apps (access-log records)")


class TimelineOut(BaseModel):
    days: int
    tz: str = Field(description="The time zone the days are in")
    items: list[TimelinePoint]
    total_added: int
    total_accessed: int


class PreferencesOut(BaseModel):
    search_mode: Literal["hybrid", "dense", "lexical"]
    page_size: int
    timezone: str
    theme: Literal["auto", "light", "dark"]
    updated_at: str | None = Field(description="When they were last saved; null: never (defaults)")


class PreferencesIn(BaseModel):
    """Any subset of the preferences; the rest keep their current values."""

    model_config = ConfigDict(extra="forbid")
    search_mode: Literal["hybrid", "dense", "lexical"] | None = None
    page_size: int | None = Field(None, ge=5, le=200)
    timezone: TimeZone | None = None
    theme: Literal["auto", "light", "dark"] | None = None

    _numbers = field_validator("page_size", mode="before")(json_number)


class ClientConfig(BaseModel):
    id: str
    name: str
    where: str = Field(description="Where the snippet goes")
    url: str = Field(description="The MCP endpoint this client should use")
    config: dict[str, Any]


class ConnectOut(BaseModel):
    auth_required: bool
    token_placeholder: str | None = Field(description="Replace this string in each config with a token; null when auth is off")
    clients: list[ClientConfig]
    oauth_url: str | None = Field(None, description="The MCP URL clients that sign in by OAuth need (nothing else); null when OAuth is off")


@router.get("/me", response_model=MeOut, tags=["ui"], summary="Who the caller is")
def me(request: Request, identity: Caller):
    """The token's user, app and scopes (a paused app-bound token is refused here too)."""
    ops.check_caller(acting(request, identity, "read"))
    return {
        "user": identity.user, "app": identity.app, "scopes": sorted(identity.scopes),
        "auth_required": get_state(request).auth_required,
    }


@router.get("/stats/timeline", response_model=TimelineOut, tags=["system"], summary="Memories added and accessed per day")
def stats_timeline(
    request: Request, identity: Caller,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="How many days, ending today")] = 30,
    tz: Annotated[TimeZone, Query(description="IANA time zone of the days (e.g. Europe/Paris)")] = "UTC",
):
    """A zero-filled daily series (oldest first) from the history table and the access log."""
    from ..ops.timeline import timeline  # at use: the engine is imported on the first request that needs it

    return timeline(acting(request, identity, "read"), days, tz)


@router.get("/access", response_model=AccessOut, tags=["system"], summary="Recent reads by apps")
def recent_access(
    request: Request, identity: Caller, limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 20,
):
    """The newest access-log records across all memories (an app: only its own), for the dashboard."""
    return {"items": ops.access_log(acting(request, identity, "read"), limit=limit)}


@router.get("/preferences", response_model=PreferencesOut, tags=["ui"], summary="The user's UI preferences")
def read_preferences(request: Request, identity: Caller):
    from ..ops.preferences import get_preferences

    return get_preferences(acting(request, identity, "read"))


@router.put("/preferences", response_model=PreferencesOut, tags=["ui"], summary="Save UI preferences")
def save_preferences(request: Request, body: Annotated[PreferencesIn, Body()], identity: Caller):
    """Validated and stored in the user's namespace (survives restarts); owner tokens only."""
    ctx = acting(request, identity, "admin")
    from ..ops.preferences import put_preferences

    return put_preferences(ctx, body.model_dump(exclude_none=True))


@router.get("/connect", response_model=ConnectOut, tags=["ui"], summary="MCP client configs for this server")
def connect(request: Request, identity: Caller):
    """Ready-to-paste configs; with auth on they carry a placeholder for a token (create one with
    POST /api/v1/tokens, app = the client's id), so no secret ever travels back from here."""
    ops.check_caller(acting(request, identity, "read"))
    state = get_state(request)
    host = request.headers.get("host") or request.url.netloc
    base = f"{request.url.scheme}://{host}"
    token = TOKEN_PLACEHOLDER if state.auth_required else None
    return {
        "auth_required": state.auth_required, "token_placeholder": token,
        "clients": client_configs(base, identity.user, state.auth_required, token),
        "oauth_url": f"{(state.public_url or base).rstrip('/')}/mcp" if state.oauth is not None else None,
    }
