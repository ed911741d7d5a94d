"""Request models and REST-only response shapes of the REST API, so the published OpenAPI says exactly
what is accepted. Results themselves are the ``ops/models.py`` models, answered as they are.

Bounds here are hard ceilings that no request may pass whatever the configuration; the
configured limits (``MEMBUCKET_MAX_TEXT_CHARS``, ``MEMBUCKET_MAX_BATCH``,
``MEMBUCKET_MAX_SEARCH_LIMIT``, ...) are enforced by the operations and answer 413 ``too_large``
with the limit in ``details``. Ids are checked by the operations too (400 ``invalid_id``), so a
malformed id gets the same stable code on every surface.

The schema states every rule the server enforces: name patterns and id formats are published here
(``json_schema_extra``) and checked by the operations (400 with their code); a field marked with
``LIMIT_KEY`` gets the configured limit written into /openapi.json by ``http/openapi.py``, and
``ZONES_KEY`` the time zones this host knows. Booleans and times are strict: ``infer: 0`` or
``created_before=0.5`` are refused (422), not coerced.
"""

import re
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StringConstraints, field_validator, model_validator

from ..auth import Identity
from ..caller import context_for, get_state, owner_surface
from ..ops.filters import Filters
from ..ops.models import AccessRecord, App, HistoryEvent, Rule, SearchHit

if TYPE_CHECKING:
    from ..ops import Context

__all__ = [
    "ERROR_RESPONSES", "AUTHENTICATED", "USER_HEADER", "acting", "MemoryState", "StateAction", "ACTION_STATES", "SortField", "SortOrder", "Scope",
    "MemoryId", "AppName", "Category", "CategoryFilter", "TEXT_MAX", "IDS_MAX", "LIMIT_MAX", "LIMIT_KEY", "ZONES_KEY",
    "Instant", "TimeZone", "StrictBool", "json_number", "capped_by", "APP_PATTERN", "USER_PATTERN", "CATEGORY_PATTERN", "RFC3339",
]

# Ceilings (see the module docstring): the body limit (1 MiB by default) caps text anyway.
TEXT_MAX = 100_000
IDS_MAX = 10_000
LIMIT_MAX = 1_000
PAGE_MAX = 1_000_000
CURSOR_MAX = 1_000
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+={0,2}$"  # URL-safe base64

# Markers read by http/openapi.py: the configured value of a Settings field, or the known time zones.
LIMIT_KEY = "x-membucket-limit"
ZONES_KEY = "x-membucket-time-zones"


def capped_by(setting: str) -> dict[str, Any]:
    """json_schema_extra of a field capped by ``Settings.<setting>`` (maxItems, maximum or maxLength)."""
    return {LIMIT_KEY: setting}


# The rules of engine/keys.py (validate_app_name, validate_user_id) and ops/validate.py (categories).
APP_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9](?:[A-Za-z0-9._ +-]*[A-Za-z0-9._+-])?$"
USER_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._@+-]*$"
CATEGORY_PATTERN = r"^[\w&/ .+-]*[\w&/.+-][\w&/ .+-]*$"
# RFC 3339 date-time (what "format: date-time" means): a date, T, a time and an offset.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    """Only an RFC 3339 string: pydantic alone would take 0.5 or "0.5" as a Unix time, and a date alone."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not RFC3339.match(value):
        raise ValueError("expected an RFC 3339 date-time such as 2024-05-01T00:00:00Z")
    return value


def json_number(value: Any) -> Any:
    """A JSON number (or null) only, for a ``field_validator(mode="before")``: pydantic alone would
    take true as 1 and "3" as 3. 2.0 stays an integer, as in JSON; 2.5 is still refused for an int."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError("expected a number")
    return value

MemoryId = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra={"format": "uuid"}, description="A memory id (UUID)")]
AppName = Annotated[
    str, Field(min_length=1, max_length=64, json_schema_extra={"pattern": APP_PATTERN}, description="A client name: letters, digits, spaces and . _ + -")
]
Category = Annotated[
    str, Field(min_length=1, max_length=64, json_schema_extra={"pattern": CATEGORY_PATTERN}, description="1-64 letters, digits, spaces and & / . + - _")
]
CategoryFilter = Annotated[str, Field(min_length=1, max_length=64, description="A category name (compared case-insensitively)")]
# Some character that is not whitespace (blank text is empty_text) and no NUL anywhere (invalid_input).
TEXT_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=TEXT_MAX), Field(json_schema_extra={**capped_by("max_text_chars"), "pattern": TEXT_PATTERN}),
]
Instant = Annotated[datetime, BeforeValidator(_rfc3339), Field(description="RFC 3339 date-time, e.g. 2024-05-01T00:00:00Z")]
TimeZone = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra={ZONES_KEY: True}, description="IANA time zone, e.g. Europe/Paris")]
Metadata = Annotated[dict[str, Any], Field(description="A JSON object (size limited by MEMBUCKET_MAX_METADATA_BYTES)")]


class MemoryState(str, Enum):
    active = "active"
    paused = "paused"
    archived = "archived"
    deleted = "deleted"


class StateAction(str, Enum):
    pause = "pause"
    archive = "archive"
    resume = "resume"
    delete = "delete"


ACTION_STATES = {"pause": "paused", "archive": "archived", "resume": "active", "delete": "deleted"}


class SortField(str, Enum):
    created_at = "created_at"
    updated_at = "updated_at"
    text = "text"
    app = "app"
    state = "state"


class SortOrder(str, Enum):
    asc = "asc"
    desc = "desc"


class Scope(str, Enum):
    read = "read"
    write = "write"
    admin = "admin"


# -- errors --------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, app_paused, too_large")
    message: str
    details: dict[str, Any] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


_ERROR_TEXT = {
    400: "Invalid input (bad id, app name, state, cursor, ...)",
    401: "Missing, invalid or revoked token",
    403: "Insufficient scope, paused app, access denied, or origin not allowed",
    404: "Not found (or not visible to this token)",
    409: "Conflict (illegal state transition, embedder mismatch)",
    413: "Request body or a value above its limit",
    421: "Host not served here",
    422: "Request validation failed",
    429: "Too many requests (MEMBUCKET_RATE_LIMIT_PER_MINUTE); retry after Retry-After seconds",
    503: "Store unavailable or commit contention; retry after Retry-After seconds",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in _ERROR_TEXT.items()
}


# Declares the bearer scheme in OpenAPI (the docs page's Authorize button); get_identity does the checking.
BEARER = HTTPBearer(auto_error=False, description="A membucket token: `mb_<id>_<secret>` (membucket token create)")
USER_HEADER = "X-Membucket-User"


def _user_header(
    user: Annotated[str | None, Header(
        alias=USER_HEADER, json_schema_extra={"maxLength": 128, "pattern": USER_PATTERN.replace("^", "^$|^", 1)},
        description="Auth off only: act as this user (the web UI's user switch); empty: the default user",
    )] = None,
) -> None:
    """Declares the header in OpenAPI (http/openapi.py drops it when auth is on: it is ignored then)."""


AUTHENTICATED = [Security(BEARER), Depends(_user_header)]


def acting(request: Request, identity: Identity, scope: str) -> "Context":
    """Check the caller's scope, then give the Context it acts in (its user; its app, if bound)."""
    identity.require(scope)
    return context_for(get_state(request), identity, surface=owner_surface(request.headers))


# -- memories ------------------------------------------------------------------------------


class MemoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text
    metadata: Metadata | None = None
    categories: list[Category] | None = Field(
        None, max_length=100, json_schema_extra=capped_by("max_categories"), description="Categories; when omitted, a configured categorizer may assign some",
    )
    infer: StrictBool = Field(False, description="Extract and reconcile facts with the LLM when one is configured; otherwise stored verbatim")


class MemoryUpdate(BaseModel):
    # at least one of them, not null ("nothing to update" otherwise)
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in ("text", "metadata", "categories")
    ]})
    text: Text | None = Field(None, description="New text; the memory is re-embedded")
    metadata: Metadata | None = Field(None, description="Replaces the metadata")
    categories: list[Category] | None = Field(None, max_length=100, json_schema_extra=capped_by("max_categories"), description="Replaces the categories")


class MemoryListQuery(BaseModel):
    """Filters, sort and paging of a memory list (apps only ever see active memories)."""

    state: list[MemoryState] = Field(default_factory=list, max_length=4, description="Any of these states (default: all but deleted)")
    category: list[CategoryFilter] = Field(default_factory=list, max_length=100, description="Has any of these categories")
    q: str | None = Field(None, min_length=1, max_length=1000, description="Text contains (case-insensitive)")
    created_after: Instant | None = Field(None, description="Created at or after (RFC 3339)")
    created_before: Instant | None = Field(None, description="Created before (RFC 3339)")
    sort: SortField = SortField.created_at
    order: SortOrder = SortOrder.desc
    page: int = Field(1, ge=1, le=PAGE_MAX, description="1-based page (ignored with a cursor)")
    size: int = Field(50, ge=1, le=LIMIT_MAX, json_schema_extra=capped_by("max_batch"), description="Page size (at most MEMBUCKET_MAX_BATCH)")
    cursor: str | None = Field(
        None, min_length=1, max_length=CURSOR_MAX, json_schema_extra={"pattern": CURSOR_PATTERN},
        description="next_cursor of the previous page (opaque; only cursors this server issued are accepted)",
    )

    def filters(self, apps: list[str]) -> Filters:
        return Filters(
            apps=apps, categories=list(self.category), states=[s.value for s in self.state],
            created_after=self.created_after, created_before=self.created_before, text=self.q,
        )

    def paging(self) -> dict[str, Any]:
        return {"sort": self.sort.value, "order": self.order.value, "page": self.page, "size": self.size, "cursor": self.cursor}


class MemoryListQueryWithApp(MemoryListQuery):
    app: list[AppName] = Field(default_factory=list, max_length=100, description="Created by any of these apps")


class SearchFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    apps: list[AppName] = Field(default_factory=list, max_length=100, description="Created by any of these apps")
    categories: list[CategoryFilter] = Field(default_factory=list, max_length=100, description="Has any of these categories")
    created_after: Instant | None = None
    created_before: Instant | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, max_length=50, description="Equality on top-level metadata keys")
    text: str | None = Field(None, min_length=1, max_length=1000, description="Text contains (case-insensitive)")

    def to_filters(self) -> Filters:
        return Filters(
            apps=list(self.apps), categories=list(self.categories), created_after=self.created_after,
            created_before=self.created_before, metadata=dict(self.metadata), text=self.text,
        )


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: Text
    limit: int = Field(
        10, ge=1, le=LIMIT_MAX, json_schema_extra=capped_by("max_search_limit"), description="Top-k (at most MEMBUCKET_MAX_SEARCH_LIMIT)",
    )
    threshold: float | None = Field(None, ge=-1.0, le=1.0, allow_inf_nan=False, description="Minimum cosine similarity")
    filters: SearchFilters | None = None
    mode: Literal["dense", "lexical", "hybrid"] | None = Field(
        None, description="Ranking: embeddings (dense), words (BM25, lexical) or both fused (hybrid, the default)"
    )

    _numbers = field_validator("limit", "threshold", mode="before")(json_number)


class HitsOut(BaseModel):
    items: list[SearchHit]


class IdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[MemoryId] = Field(
        min_length=1, max_length=IDS_MAX, json_schema_extra=capped_by("max_batch"), description="Memory ids (at most MEMBUCKET_MAX_BATCH)",
    )


class StateIn(BaseModel):
    """A target ``state``, or an ``action`` naming one (pause, archive, resume, delete); exactly one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["state"], "properties": {"state": {"not": {"type": "null"}}, "action": {"type": "null"}}},
        {"required": ["action"], "properties": {"action": {"not": {"type": "null"}}, "state": {"type": "null"}}},
    ]})
    state: MemoryState | None = None
    action: StateAction | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.state is None) == (self.action is None):
            raise ValueError("give exactly one of 'state' and 'action'")
        return self

    def target(self) -> str:
        if self.state is not None:
            return self.state.value
        assert self.action is not None, "_one lets exactly one of state and action through"
        return ACTION_STATES[self.action.value]


class BulkStateIn(StateIn):
    ids: list[MemoryId] = Field(min_length=1, max_length=IDS_MAX, json_schema_extra=capped_by("max_batch"), description="Memory ids; all change or none does")


class HistoryOut(BaseModel):
    items: list[HistoryEvent]


class AccessOut(BaseModel):
    items: list[AccessRecord]


# -- apps and rules --------------------------------------------------------------------------


class AppsOut(BaseModel):
    items: list[App]


class RuleIn(BaseModel):
    # scope=memory needs a memory id as target, scope=category a category; scope=all ignores target.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"properties": {"scope": {"const": "all"}}},
        {"required": ["scope", "target"], "properties": {"scope": {"const": "memory"}, "target": {"type": "string", "format": "uuid"}}},
        {"required": ["scope", "target"], "properties": {"scope": {"const": "category"}, "target": {"type": "string", "pattern": CATEGORY_PATTERN}}},
    ]})
    app: str = Field(
        min_length=1, max_length=64, json_schema_extra={"pattern": APP_PATTERN.replace("^", r"^(?:\*$|", 1) + ")"},
        description="An app name, or '*' for every app",
    )
    effect: Literal["allow", "deny"]
    scope: Literal["all", "memory", "category"] = "all"
    target: str | None = Field(None, min_length=1, max_length=64, description="Memory id (scope=memory) or category (scope=category)")


class RulesOut(BaseModel):
    items: list[Rule]


# -- system ------------------------------------------------------------------------------------


class CategoryOut(BaseModel):
    name: str
    count: int = Field(description="Non-deleted memories with this category")
    active: int = Field(description="Active memories with this category")


class CategoriesOut(BaseModel):
    items: list[CategoryOut]


class MemoryCounts(BaseModel):
    total: int
    by_state: dict[str, int]
    by_app: dict[str, int]
    by_category: dict[str, int]


class AppCounts(BaseModel):
    total: int
    paused: int


class IndexInfo(BaseModel):
    active_vectors: int
    embedder: str | None
    dim: int | None


class LogInfo(BaseModel):
    seq: int
    checkpoint_seq: int
    tail: int


class StatsOut(BaseModel):
    user: str
    memories: MemoryCounts
    apps: AppCounts
    index: IndexInfo
    log: LogInfo


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str


class ReadyOut(BaseModel):
    status: Literal["ready"]
    store_ms: float


# -- tokens ------------------------------------------------------------------------------------


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: AppName | None = Field(None, description="The app the token acts as; null: the owner (not subject to rules)")
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.write], min_length=1, max_length=3)
    description: str = Field("", max_length=200)


class TokenOut(BaseModel):
    id: str
    user: str
    app: str | None
    scopes: list[Scope]
    created_at: str
    description: str
    revoked_at: str | None


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer token; shown once, only its hash is stored")


class TokensOut(BaseModel):
    items: list[TokenOut]


class GrantOut(BaseModel):
    """An OAuth client's approval: it acts as ``app`` with ``scopes`` until revoked."""

    id: str
    kind: str = "oauth"
    user: str
    app: str
    client_id: str
    client_name: str
    scopes: list[Scope]
    resource: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
    revoked_reason: str | None


class GrantsOut(BaseModel):
    items: list[GrantOut]
