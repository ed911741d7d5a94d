"""``/api/v1/memories``: create, list, get, edit, delete, search, state changes, history, access, related.

Each handler: parse (pydantic) -> identity -> scope -> one ``ops`` call -> response. A token bound
to an app acts as that app (paused apps, rules and the access log apply); the owner sees all.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from .. import ops
from ..auth import Identity
from ..caller import get_identity
from ..ops.models import AddResult, Memory, Page, StateChange
from .schemas import (
    AUTHENTICATED,
    ERROR_RESPONSES,
    LIMIT_MAX,
    AccessOut,
    BulkStateIn,
    HistoryOut,
    HitsOut,
    IdsIn,
    MemoryCreate,
    MemoryListQueryWithApp,
    MemoryUpdate,
    SearchIn,
    StateIn,
    acting,
    capped_by,
)

__all__ = ["router"]

router = APIRouter(prefix="/memories", tags=["memories"], responses=ERROR_RESPONSES, dependencies=AUTHENTICATED)

Caller = Annotated[Identity, Depends(get_identity)]
PathId = Annotated[str, Path(min_length=1, max_length=64, json_schema_extra={"format": "uuid"}, description="Memory id (UUID)")]


@router.post("", status_code=201, response_model=AddResult, summary="Add a memory")
def create_memory(request: Request, body: MemoryCreate, identity: Caller):
    """Store text as a memory. An exact duplicate is a NOOP; a near duplicate is added and named in ``similar``."""
    ctx = acting(request, identity, "write")
    return ops.add(ctx, body.text, metadata=body.metadata, categories=body.categories, infer=body.infer)


@router.get("", response_model=Page, summary="List memories")
def list_memories(request: Request, query: Annotated[MemoryListQueryWithApp, Query()], identity: Caller):
    """A page of memories with the total; filter by state, app, category, text and creation time."""
    ctx = acting(request, identity, "read")
    return ops.list_memories(ctx, filters=query.filters(list(query.app)), **query.paging())


@router.post("/search", response_model=HitsOut, summary="Search")
def search_memories(request: Request, body: SearchIn, identity: Caller):
    """Active memories best matching ``query`` (cosine at least ``threshold``) under exact filters;
    ``mode`` ranks by embeddings (dense), words (lexical, BM25) or both (hybrid, the default)."""
    ctx = acting(request, identity, "read")
    filters = body.filters.to_filters() if body.filters is not None else None
    hits = ops.search(ctx, body.query, limit=body.limit, threshold=body.threshold, filters=filters, mode=body.mode)
    return {"items": hits}


@router.post("/delete", response_model=StateChange, summary="Delete memories (bulk)")
def delete_memories(request: Request, body: IdsIn, identity: Caller):
    """Delete every listed memory, or none if one is unknown (all-or-nothing)."""
    ctx = acting(request, identity, "write")
    return ops.delete(ctx, body.ids)


@router.post("/state", response_model=StateChange, summary="Change the state of memories (bulk)")
def change_states(request: Request, body: BulkStateIn, identity: Caller):
    """Move every listed memory to ``state`` (or by ``action``); one illegal move refuses the batch."""
    ctx = acting(request, identity, "write")
    return ops.change_state(ctx, body.ids, body.target())


@router.get("/{memory_id}", response_model=Memory, summary="Get a memory")
def get_memory(request: Request, memory_id: PathId, identity: Caller):
    ctx = acting(request, identity, "read")
    return ops.get(ctx, memory_id)


@router.patch("/{memory_id}", response_model=Memory, summary="Edit a memory")
def update_memory(request: Request, memory_id: PathId, body: MemoryUpdate, identity: Caller):
    """Change text (re-embedded), metadata or categories."""
    ctx = acting(request, identity, "write")
    return ops.update(ctx, memory_id, text=body.text, metadata=body.metadata, categories=body.categories)


@router.delete("/{memory_id}", response_model=StateChange, summary="Delete a memory")
def delete_memory(request: Request, memory_id: PathId, identity: Caller):
    ctx = acting(request, identity, "write")
    return ops.delete(ctx, [memory_id])


@router.post("/{memory_id}/state", response_model=StateChange, summary="Change the state of a memory")
def change_state(request: Request, memory_id: PathId, body: StateIn, identity: Caller):
    ctx = acting(request, identity, "write")
    return ops.change_state(ctx, [memory_id], body.target())


@router.get("/{memory_id}/history", response_model=HistoryOut, summary="History of a memory")
def memory_history(request: Request, memory_id: PathId, identity: Caller):
    """Every add, edit and state change, oldest first, with actor and time."""
    ctx = acting(request, identity, "read")
    return {"items": ops.history(ctx, memory_id)}


@router.get("/{memory_id}/access", response_model=AccessOut, summary="Who read a memory")
def memory_access(
    request: Request, memory_id: PathId, identity: Caller,
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 100,
):
    """Access-log records of this memory, newest first (an app sees only its own)."""
    ctx = acting(request, identity, "read")
    return {"items": ops.access_log(ctx, memory_id=memory_id, limit=limit)}


@router.get("/{memory_id}/related", response_model=HitsOut, summary="Related memories")
def related_memories(
    request: Request, memory_id: PathId, identity: Caller,
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX, json_schema_extra=capped_by("max_search_limit"), description="At most MEMBUCKET_MAX_SEARCH_LIMIT")] = 5,
):
    """Active memories most similar to this one (itself excluded), under the same access rules."""
    ctx = acting(request, identity, "read")
    return {"items": ops.related(ctx, memory_id, limit=limit)}
