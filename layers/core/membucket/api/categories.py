"""Categories: re-run the categorizer (``/memories/recategorize``) and user-defined categories.

Recategorizing needs the ``write`` scope; an app-bound caller only touches memories it can see.
Defining and deleting categories is management (``admin``); listing them is ``read``.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from .. import ops
from ..auth import Identity
from ..caller import get_identity
from ..ops.validate import CATEGORY_DESCRIPTION_MAX as MAX_DESCRIPTION
from .schemas import AUTHENTICATED, CATEGORY_PATTERN, ERROR_RESPONSES, IDS_MAX, Category, MemoryId, StrictBool, acting, capped_by

__all__ = ["router"]

router = APIRouter(responses=ERROR_RESPONSES, dependencies=AUTHENTICATED)

Caller = Annotated[Identity, Depends(get_identity)]


class RecategorizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[MemoryId] | None = Field(
        None, min_length=1, max_length=IDS_MAX, json_schema_extra=capped_by("max_batch"),
        description="Only these memories (at most MEMBUCKET_MAX_BATCH); default: all the caller can see",
    )
    only_missing: StrictBool = Field(False, description="Only memories that have no categories yet")


class RecategorizeOut(BaseModel):
    scanned: int = Field(description="Memories the categorizer ran over")
    changed: int = Field(description="Memories whose categories changed (written)")
    unchanged: int
    skipped: int = Field(description="Edited, deleted or hidden while the run went on")
    commits: int
    changed_ids: list[str]


class CategoryDefIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Category
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION, description="What belongs in this category, in a sentence")


class CategoryDefOut(BaseModel):
    name: str
    description: str
    created_at: str
    updated_at: str


class CategoryDefsOut(BaseModel):
    items: list[CategoryDefOut]


@router.post("/memories/recategorize", response_model=RecategorizeOut, tags=["memories"], summary="Re-run the categorizer")
def recategorize_memories(request: Request, body: RecategorizeIn, identity: Caller):
    """Recompute categories of the listed memories, or of every memory the caller can see, one commit per batch.

    Only changed categories are written; unknown (or invisible) ids refuse the request (404).
    """
    ctx = acting(request, identity, "write")
    return ops.recategorize(ctx, body.ids, only_missing=body.only_missing).to_dict()


@router.get("/category-definitions", response_model=CategoryDefsOut, tags=["memories"], summary="User-defined categories")
def list_definitions(request: Request, identity: Caller):
    ctx = acting(request, identity, "read")
    return {"items": [d.to_dict() for d in ops.list_category_defs(ctx)]}


@router.put("/category-definitions", response_model=CategoryDefOut, tags=["memories"], summary="Define a category")
def define(request: Request, body: CategoryDefIn, identity: Caller):
    """Create a category the categorizer may assign, or replace its description (affects new writes and recategorize)."""
    ctx = acting(request, identity, "admin")
    return ops.define_category(ctx, body.name, body.description).to_dict()


@router.delete("/category-definitions", status_code=204, tags=["memories"], summary="Delete a category definition")
def undefine(request: Request, identity: Caller, name: Annotated[str, Query(min_length=1, max_length=64, json_schema_extra={"pattern": CATEGORY_PATTERN})]):
    """Memories keep the category; the categorizer stops assigning it."""
    ctx = acting(request, identity, "admin")
    ops.delete_category(ctx, name)
    return Response(status_code=204)

