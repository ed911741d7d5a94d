"""Add memories: verbatim text, with exact and near-duplicate detection among what the app can see."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import queries
from ..engine.log import encode_vector
from ..engine.namespace import Plan
from ..engine.operations import MemoryAdd, MemoryUpdate, Operation
from ..errors import InvalidInput, TooLarge
from .access import app_ops, check_app, duplicate
from .context import Context, check_embedder, init_ops
from .models import AddEvent, AddResult
from .pending import after_commit, categorize_now, pending_op
from .validate import clean_categories, clean_metadata, clean_text, text_hash

__all__ = ["add", "add_batch", "NewMemory"]

NO_LLM_NOTE = "infer requested but no LLM is configured: stored verbatim with duplicate detection"


@dataclass
class NewMemory:
    """One memory for ``add_batch``; ``vector`` skips embedding (imports, benchmarks)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    vector: np.ndarray | None = None
    id: str | None = None


def add(
    ctx: Context,
    text: str,
    *,
    metadata: dict[str, Any] | None = None,
    categories: Sequence[str] | None = None,
    infer: bool = False,
    dedupe: bool = True,
) -> AddResult:
    """Store ``text`` as a memory of the calling app.

    An exact duplicate (same normalized text) of a memory the app can see is a NOOP. A near
    duplicate (cosine >= ``near_duplicate_threshold``) is not a fact to drop: "3 cats" is added
    beside "2 cats" and the event names it (``similar``) so the calling model can decide; the
    operator may instead let it update that memory (``merge_near_duplicates``). With an LLM,
    infer's reconcile decides.
    """
    s = ctx.settings
    text = clean_text(text, s)
    metadata = clean_metadata(metadata, s)
    cats = clean_categories(categories, s)
    note = NO_LLM_NOTE if infer else None
    if infer and ctx.llm is not None:
        from ..llm import LlmError
        from .infer import infer_add

        try:
            return infer_add(ctx, text, metadata=metadata, categories=cats)
        except LlmError as exc:  # never lose the text: store it as given
            note = f"infer failed ({exc}): stored verbatim with duplicate detection"
    vector = ctx.embed_one(text)
    pending = False
    if not cats:
        cats, pending = categorize_now(ctx, text, vector)
    digest = text_hash(text)

    def build(rep) -> Plan:
        vis = check_app(rep, ctx.app, write=True)
        check_embedder(ctx, rep)
        ops = init_ops(ctx, rep) + app_ops(ctx.app, rep)
        if dedupe and rep.embedder is not None:
            row = duplicate(ctx, rep, digest, vis)
            if row is not None:
                return Plan(ops, [AddEvent(id=row[0], event="NOOP", text=row[1])])
            similar: list[str] | None = None
            near = _nearest(rep, vis, vector, s.near_duplicate_threshold)
            if near and not s.merge_near_duplicates:
                similar = [row[0] for row in near]
            elif near:
                mid, _, old_text, old_meta, old_cats = near[0]
                op = MemoryUpdate(
                    id=mid, text=text, hash=digest, vector=encode_vector(vector),
                    metadata={**old_meta, **metadata} if metadata else None,
                    categories=list(dict.fromkeys([*old_cats, *cats])) if cats else None,
                )
                return Plan(ops + [op] + _pending(mid), [AddEvent(id=mid, event="UPDATE", text=text, previous_text=old_text)])
        else:
            similar = None
        mid = str(uuid.uuid4())
        new = MemoryAdd(
            id=mid, text=text, hash=digest, vector=encode_vector(vector), metadata=metadata, categories=cats, app=ctx.creator,
        )
        return Plan(ops + [new] + _pending(mid), [AddEvent(id=mid, event="ADD", text=text, similar=similar)])

    def _pending(mid: str) -> list[Operation]:
        return [pending_op([mid])] if pending else []

    events = ctx.ns.commit(build, actor=ctx.who)
    if pending:
        after_commit(ctx, [e.id for e in events if e.event != "NOOP"])
    return AddResult(events=events, note=note)


def _nearest(rep, vis, vector: np.ndarray, threshold: float, k: int = 5) -> list[tuple]:
    """(id, score, text, metadata, categories) of the active memories the app can see at or above
    ``threshold``, nearest first (at most ``k``)."""
    if queries.index_size(rep) == 0:
        return []
    allowed = None if vis.unrestricted else queries.active_vids(rep, vis)
    scores, vids = queries.nearest(rep, vector, k, allowed)
    out = []
    for score, vid in zip(scores, vids):
        if float(score) < threshold:
            break
        row = queries.memory_by_vid(rep, int(vid))
        assert row is not None, "the index holds only vids of stored memories"
        out.append((row[0], float(score), row[1], json.loads(row[2]) if row[2] else {}, list(row[3] or [])))
    return out


def add_batch(ctx: Context, items: Sequence[NewMemory]) -> list[str]:
    """Add many memories in ONE commit, verbatim (no duplicate detection); return their ids.

    For imports and benchmarks. Items without a vector are embedded in one batch.
    """
    s = ctx.settings
    if len(items) > s.max_batch:
        raise TooLarge(f"{len(items)} items; the limit per batch is {s.max_batch}", limit=s.max_batch)
    texts = [clean_text(it.text, s) for it in items]
    missing = [i for i, it in enumerate(items) if it.vector is None]
    vectors: list[np.ndarray | None] = [it.vector for it in items]
    if missing:
        embedded = ctx.embedder.embed([texts[i] for i in missing])
        for j, i in enumerate(missing):
            vectors[i] = embedded[j]
    ops: list[MemoryAdd] = []
    for it, text, vec in zip(items, texts, vectors):
        vec = np.asarray(vec, dtype=np.float32).reshape(-1)
        if vec.shape[0] != ctx.embedder.dim:
            raise InvalidInput(f"vector has {vec.shape[0]} dimensions; the namespace uses {ctx.embedder.dim}")
        ops.append(MemoryAdd(
            id=it.id or str(uuid.uuid4()), text=text, hash=text_hash(text),
            vector=encode_vector(vec), metadata=clean_metadata(it.metadata, s),
            categories=clean_categories(it.categories, s), app=ctx.creator,
        ))

    def build(rep) -> Plan:
        check_app(rep, ctx.app, write=True)
        check_embedder(ctx, rep)
        return Plan([*init_ops(ctx, rep), *app_ops(ctx.app, rep), *ops], [op.id for op in ops])

    return ctx.ns.commit(build, actor=ctx.who)
