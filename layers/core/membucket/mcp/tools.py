"""MCP tools: each parses its arguments, makes one ``ops`` call, and raises MCP errors on failure.

The caller (user, app, scopes) comes from ``CALLER``, set per HTTP request by the endpoint in
``server.py``; tools never take identity from their arguments.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Annotated, Any, Literal

import anyio
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from .. import ops
from ..auth import Identity
from ..caller import ServerState, context_for
from ..errors import Conflict, Forbidden, InvalidInput, MembucketError, NotFoundError, ServiceUnavailable, StoreFailed
from ..ops.failures import as_membucket_error
from ..ops.models import AddResult, Hit, MemoryItem
from ..store import StoreError

__all__ = ["CALLER", "register_tools", "to_mcp_error"]

log = logging.getLogger(__name__)

# (state, identity, app from the URL) of the HTTP request being served
CALLER: contextvars.ContextVar[tuple[ServerState, Identity, str | None]] = contextvars.ContextVar("membucket_caller")

# Limits (text length, id length, result counts, list sizes) are advertised in the schema
# (json_schema_extra) but enforced by the operation, so an empty, blank or oversized text, a
# malformed id, a limit out of range or too many ids gets the REST code (empty_text, too_large,
# invalid_id, invalid_input) as a JSON-RPC error, not a pydantic message.
# JSON-RPC codes: -32602 is "invalid params"; the -320xx range is ours.
_CODES = [(InvalidInput, -32602), (NotFoundError, -32002), (Forbidden, -32003), (Conflict, -32009), (ServiceUnavailable, -32000)]


def to_mcp_error(exc: MembucketError):
    from mcp.shared.exceptions import MCPError

    code = next((c for cls, c in _CODES if isinstance(exc, cls)), -32603)
    return MCPError(code, f"{exc.code}: {exc.message}", {"code": exc.code, "status": exc.status, **({"details": exc.details} if exc.details else {})})


async def _call(scope: str, fn):
    """Run ``fn(ctx)`` (one ops call) for the current caller in a worker thread; library and store
    errors become MCP errors with the code REST would answer (``ops.failures.as_membucket_error``)."""
    state, identity, url_app = CALLER.get()
    try:
        identity.require(scope)
        ctx = context_for(state, identity, url_app)
        return await anyio.to_thread.run_sync(lambda: fn(ctx))
    except (MembucketError, StoreError) as exc:
        err = as_membucket_error(exc)
        if isinstance(err, StoreFailed):
            log.exception("store error")
        raise to_mcp_error(err) from exc


# Tools answer the ops models REST answers (add_memories: AddResult as POST /memories does);
# get and search use their narrower MCP views (MemoryItem, Hit). Only the envelopes are MCP's own.


class SearchResult(BaseModel):
    results: list[Hit]


class ListResult(BaseModel):
    items: list[MemoryItem]
    total: int
    next_cursor: str | None = None


class DeleteResult(BaseModel):
    deleted: list[str]
    already_deleted: list[str] = []


READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
UPDATE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


def _answer(model: BaseModel, lines: list[str]) -> Any:
    """structuredContent is the model; the text content is a few compact lines a model reads
    cheaply (not the same JSON again, indented)."""
    return CallToolResult(
        content=[TextContent(type="text", text="\n".join(lines))],
        structured_content=model.model_dump(mode="json", by_alias=True),
    )


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _add_lines(res: AddResult) -> list[str]:
    lines = []
    for e in res.results:
        line = f"{e.event} {e.id}: {_one_line(e.text)}"
        if e.similar:
            line += f" (similar: {', '.join(e.similar)})"
        lines.append(line)
    return lines + ([f"note: {res.note}"] if res.note else []) or ["nothing stored"]


def _item_line(m: MemoryItem) -> str:
    cats = f" [{', '.join(m.categories)}]" if m.categories else ""
    return f"{m.id} ({m.state}){cats}: {_one_line(m.text)}"


SCORE_DOC = (
    "Each hit has a score from 0 to 1, higher is closer: dense is the cosine similarity (below 0 shown "
    "as 0); hybrid (the default) is that cosine plus a bonus for matching words and for neighbouring "
    "memories, capped at 1; lexical is the word-match (BM25) score relative to the best hit (1)."
)


def register_tools(server) -> None:
    @server.tool(
        annotations=WRITE,
        description=(
            "Remember something about the user for later conversations. Store one self-contained fact or "
            "preference per call, phrased with its subject (e.g. 'Alice is allergic to peanuts'). An equal text is "
            "not stored twice (NOOP). A near duplicate is added and its event lists the similar memories' ids in "
            "'similar': if the new fact replaces one of them, update or delete the old one. With infer=true and an LLM on the server, facts "
            "are extracted and reconciled with existing memories. Returns the id and event (ADD, UPDATE, DELETE, "
            "NOOP) of each memory touched."
        )
    )
    async def add_memories(
        text: Annotated[str, Field(description="What to remember, in plain language.", json_schema_extra={"minLength": 1, "maxLength": 16000})],
        infer: Annotated[bool, Field(description="Extract facts with the server's LLM; stored verbatim when none is configured.")] = False,
        metadata: Annotated[dict[str, Any] | None, Field(description="Optional JSON object stored with the memory.")] = None,
    ) -> AddResult:
        res = await _call("write", lambda ctx: ops.add(ctx, text, metadata=metadata, infer=infer))
        return _answer(res, _add_lines(res))

    @server.tool(
        annotations=READ,
        description=(
            "Search the user's memories by meaning. Call this before answering anything that may depend on "
            "what the user told you before (preferences, facts, people, projects). Returns the most relevant "
            "active memories, one per line as 'id score: text'. " + SCORE_DOC
        )
    )
    async def search_memory(
        query: Annotated[str, Field(description="What to look for.", json_schema_extra={"minLength": 1, "maxLength": 16000})],
        limit: Annotated[int, Field(description="Most results to return.", json_schema_extra={"minimum": 1, "maximum": 100})] = 10,
        categories: Annotated[list[str] | None, Field(description="Only memories with any of these categories.")] = None,
        app: Annotated[str | None, Field(description="Only memories created by this app (client name).")] = None,
        mode: Annotated[
            Literal["dense", "lexical", "hybrid"] | None,
            Field(description="Ranking: meaning (dense), exact words (lexical) or both (hybrid, the default)."),
        ] = None,
    ) -> SearchResult:
        hits = await _call(
            "read",
            lambda ctx: ops.search(
                ctx, query, limit=limit, filters=ops.Filters(categories=categories or [], apps=[app] if app else []), mode=mode
            ),
        )
        results = SearchResult(results=[h.hit() for h in hits])
        lines = [f"{h.id} {h.score:.2f}: {_one_line(h.text)}" for h in results.results]
        return _answer(results, lines or ["no memories found"])

    @server.tool(annotations=READ, description="List the user's memories, newest first, a page at a time (pass next_cursor back as cursor).")
    async def list_memories(
        limit: Annotated[int, Field(description="Most memories per page.", json_schema_extra={"minimum": 1, "maximum": 1000})] = 50,
        cursor: Annotated[str | None, Field(description="next_cursor from the previous page.", json_schema_extra={"maxLength": 1000})] = None,
        state: Annotated[
            Literal["active", "paused", "archived", "deleted"] | None,
            Field(description="Only memories in this state (apps see active memories only)."),
        ] = None,
    ) -> ListResult:
        page = await _call(
            "read", lambda ctx: ops.list_memories(ctx, filters=ops.Filters(states=[state] if state else []), size=limit, cursor=cursor)
        )
        result = ListResult(items=[m.item() for m in page.items], total=page.total, next_cursor=page.next_cursor)
        more = f"; next_cursor {result.next_cursor}" if result.next_cursor else ""
        return _answer(result, [_item_line(m) for m in result.items] + [f"{len(result.items)} of {result.total}{more}"])

    @server.tool(annotations=READ, description="Get one memory by id, with its categories, metadata, app and timestamps.")
    async def get_memory(memory_id: Annotated[str, Field(description="The memory's id (a UUID).", json_schema_extra={"maxLength": 64})]) -> MemoryItem:
        item = (await _call("read", lambda ctx: ops.get(ctx, memory_id))).item()
        return _answer(item, [_item_line(item)])

    @server.tool(annotations=UPDATE, description="Replace a memory's text (it is re-embedded) and optionally its metadata.")
    async def update_memory(
        memory_id: Annotated[str, Field(description="The memory's id (a UUID).", json_schema_extra={"maxLength": 64})],
        text: Annotated[str, Field(description="The new text.", json_schema_extra={"minLength": 1, "maxLength": 16000})],
        metadata: Annotated[dict[str, Any] | None, Field(description="New metadata (replaces the old).")] = None,
    ) -> MemoryItem:
        item = (await _call("write", lambda ctx: ops.update(ctx, memory_id, text=text, metadata=metadata))).item()
        return _answer(item, [_item_line(item)])

    @server.tool(annotations=DELETE, description="Delete memories by id. All or nothing: an unknown id refuses the whole call.")
    async def delete_memories(
        memory_ids: Annotated[
            list[str], Field(description="Ids of the memories to delete.", json_schema_extra={"minItems": 1, "maxItems": 1000})
        ],
    ) -> DeleteResult:
        res = await _call("write", lambda ctx: ops.delete(ctx, memory_ids))
        out = DeleteResult(deleted=res.changed, already_deleted=res.unchanged)
        return _answer(out, _delete_lines(out))

    @server.tool(annotations=DELETE, description="Delete every memory this app can see. Cannot be undone from MCP.")
    async def delete_all_memories() -> DeleteResult:
        res = await _call("write", ops.delete_all)
        out = DeleteResult(deleted=res.changed)
        return _answer(out, _delete_lines(out))


def _delete_lines(out: DeleteResult) -> list[str]:
    lines = [f"deleted {len(out.deleted)}: {', '.join(out.deleted)}" if out.deleted else "deleted nothing"]
    return lines + ([f"already deleted: {', '.join(out.already_deleted)}"] if out.already_deleted else [])
