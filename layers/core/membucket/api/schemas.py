"""Request models and REST-only response shapes of the REST API, so the published OpenAPI says exactly
what is accepted. Results themselves are the ``ops/models.py`` models, answered as they are.

Bounds here are hard ceilings that no request may pass whatever the configuration; the
configured limits (``MEMBUCKET_MAX_TEXT_CHARS``, ``MEMBUCKET_MAX_BATCH``,
``MEMBUCKET_MAX_SEARCH_LIMIT``, ...) are enforced by the operations and answer 413 ``too_large``
with the limit in ``details``. Ids are checked by the operations too (400 ``invalid_id``), so a
malformed id gets the same stable code on every surface.
"""

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Request, Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..auth import Identity
from ..caller import context_for, get_state
from ..ops.filters import Filters
from ..ops.models import AccessRecord, App, HistoryEvent, Rule, SearchHit

if TYPE_CHECKING:
    from ..ops import Context

__all__ = [
    "ERROR_RESPONSES", "AUTHENTICATED", "acting", "MemoryState", "StateAction", "ACTION_STATES", "SortField", "SortOrder", "Scope",
    "MemoryId", "AppName", "Category", "TEXT_MAX", "IDS_MAX", "LIMIT_MAX",
]

# Ceilings (see the module docstring): the body limit (1 MiB by default) caps text anyway.
TEXT_MAX = 100_000
IDS_MAX = 10_000
LIMIT_MAX = 1_000
PAGE_MAX = 1_000_000
CURSOR_MAX = 1_000

MemoryId = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra={"format": "uuid"}, description="A memory id (UUID)")]
AppName = Annotated[str, Field(min_length=1, max_length=64, description="A client name: letters, digits, spaces and . _ + -")]
Category = Annotated[str, Field(min_length=1, max_length=64, description="1-64 letters, digits, spaces and & / . + - _")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX)]
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
    503: "Store unavailable or commit contention; retry after Retry-After seconds",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in _ERROR_TEXT.items()
}


# Declares the bearer scheme in OpenAPI (the docs page's Authorize button); get_identity does the checking.
BEARER = HTTPBearer(auto_error=False, description="A membucket token: `mb_<id>_<secret>` (membucket token create)")
AUTHENTICATED = [Security(BEARER)]


def acting(request: Request, identity: Identity, scope: str) -> "Context":
    """Check the caller's scope, then give the Context it acts in (its user; its app, if bound)."""
    identity.require(scope)
    return context_for(get_state(request), identity)


# -- memories ------------------------------------------------------------------------------


class MemoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text
    metadata: Metadata | None = None
    categories: list[Category] | None = Field(None, max_length=100, description="Categories; when omitted, a configured categorizer may assign some")
    infer: bool = Field(False, description="Extract and reconcile facts with the LLM when one is configured; otherwise stored verbatim")


class MemoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text | None = Field(None, description="New text; the memory is re-embedded")
    metadata: Metadata | None = Field(None, description="Replaces the metadata")
    categories: list[Category] | None = Field(None, max_length=100, description="Replaces the categories")


class MemoryListQuery(BaseModel):
    """Filters, sort and paging of a memory list (apps only ever see active memories)."""

    state: list[MemoryState] = Field(default_factory=list, max_length=4, description="Any of these states (default: all but deleted)")
    category: list[Category] = Field(default_factory=list, max_length=100, description="Has any of these categories")
    q: str | None = Field(None, min_length=1, max_length=1000, description="Text contains (case-insensitive)")
    created_after: datetime | None = Field(None, description="Created at or after (ISO-8601)")
    created_before: datetime | None = Field(None, description="Created before (ISO-8601)")
    sort: SortField = SortField.created_at
    order: SortOrder = SortOrder.desc
    page: int = Field(1, ge=1, le=PAGE_MAX, description="1-based page (ignored with a cursor)")
    size: int = Field(50, ge=1, le=LIMIT_MAX, description="Page size (at most MEMBUCKET_MAX_BATCH)")
    cursor: str | None = Field(None, min_length=1, max_length=CURSOR_MAX, description="next_cursor of the previous page")

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
    categories: list[Category] = Field(default_factory=list, max_length=100, description="Has any of these categories")
    created_after: datetime | None = None
    created_before: datetime | None = None
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
    limit: int = Field(10, ge=1, le=LIMIT_MAX, description="Top-k (at most MEMBUCKET_MAX_SEARCH_LIMIT)")
    threshold: float | None = Field(None, ge=-1.0, le=1.0, allow_inf_nan=False, description="Minimum cosine similarity")
    filters: SearchFilters | None = None
    mode: Literal["dense", "lexical", "hybrid"] | None = Field(
        None, description="Ranking: embeddings (dense), words (BM25, lexical) or both fused (hybrid, the default)"
    )


class HitsOut(BaseModel):
    items: list[SearchHit]


class IdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[MemoryId] = Field(min_length=1, max_length=IDS_MAX, description="Memory ids (at most MEMBUCKET_MAX_BATCH)")


class StateIn(BaseModel):
    """A target ``state``, or an ``action`` naming one (pause, archive, resume, delete); exactly one."""

    model_config = ConfigDict(extra="forbid")
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
    ids: list[MemoryId] = Field(min_length=1, max_length=IDS_MAX, description="Memory ids; all change or none does")


class HistoryOut(BaseModel):
    items: list[HistoryEvent]


class AccessOut(BaseModel):
    items: list[AccessRecord]


# -- apps and rules --------------------------------------------------------------------------


class AppsOut(BaseModel):
    items: list[App]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: str = Field(min_length=1, max_length=64, description="An app name, or '*' for every app")
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
