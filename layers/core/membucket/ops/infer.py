"""``add(..., infer=True)`` with an LLM: extract facts, reconcile them with similar memories, commit once.

Order matters: every model call (extract, embed, reconcile, inline categories) happens before
the commit, and ``build`` only re-validates against the replica it is given (a conflict re-runs
it, never the model). The whole outcome is ONE log entry: all ADD, UPDATE and DELETE ops of one
call land together or not at all. Only memories the calling app can see are shown to the model
or may be touched; a decision naming anything else was dropped by ``llm.extract`` already, and a
memory that vanished (deleted, hidden) since it was shown is re-checked here: an UPDATE of it
becomes an ADD (the fact is kept), a DELETE or NONE of it is skipped.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np

from ..engine import queries
from ..engine.log import encode_vector
from ..engine.namespace import Plan
from ..engine.operations import MemoryAdd, MemoryState, MemoryUpdate
from ..llm.extract import Decision, extract_facts, reconcile
from .access import app_ops, check_app, duplicate
from .context import Context, check_embedder, init_ops
from .models import AddEvent, AddResult
from .pending import after_commit, categorize_now, pending_op
from .validate import text_hash

__all__ = ["infer_add", "NO_FACTS_NOTE"]

NO_FACTS_NOTE = "infer: the LLM found no facts worth remembering; nothing stored (infer=false stores the text verbatim)"


def _similar(ctx: Context, vectors: np.ndarray, k: int) -> list[tuple[str, str]]:
    """(id, text) of the top-``k`` active memories the app can see for each vector, best first, unique."""
    out: dict[str, str] = {}
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app, write=True)
        check_embedder(ctx, rep)
        if queries.index_size(rep) == 0 or k <= 0:
            return []
        allowed = None if vis.unrestricted else queries.active_vids(rep, vis)
        for vector in vectors:
            _, vids = queries.nearest(rep, vector, k, allowed)
            for vid in vids:
                row = queries.active_memory_by_vid(rep, int(vid))
                if row is not None:
                    out.setdefault(row[0], row[1])
    return list(out.items())


def infer_add(ctx: Context, text: str, *, metadata: dict[str, Any], categories: list[str]) -> AddResult:
    """Facts of ``text`` reconciled with what the app can see; raises LlmError (the caller falls back)."""
    with ctx.ns.read() as rep:  # a paused or denied app's text is never sent to the model
        check_app(rep, ctx.app, write=True)
        check_embedder(ctx, rep)
    facts = extract_facts(ctx.llm, text)
    if not facts:
        return AddResult(events=[], note=NO_FACTS_NOTE)
    fact_vectors = ctx.embedder.embed([f.text for f in facts])
    similar = _similar(ctx, fact_vectors, ctx.settings.llm_similar_memories)
    short = {str(i): mid for i, (mid, _) in enumerate(similar)}
    if similar:
        decisions = reconcile(ctx.llm, facts, [(sid, similar[int(sid)][1]) for sid in short])
    else:
        decisions = [Decision("ADD", i, None, f.text) for i, f in enumerate(facts)]

    # New texts: embedded (the fact's vector when the text is the fact) and categorized, before commit.
    texts = [d.text for d in decisions if d.text is not None]
    missing = sorted({t for t in texts if t not in {f.text for f in facts}})
    vectors = {f.text: fact_vectors[i] for i, f in enumerate(facts)}
    if missing:
        vectors.update(zip(missing, ctx.embedder.embed(missing)))
    cats: dict[str, list[str] | None] = {}  # None: leave an updated memory's categories as they are
    pending: dict[str, bool] = {}
    for t in dict.fromkeys(texts):
        if categories or ctx.categorizer is None:
            cats[t], pending[t] = categories or None, False
        else:
            found, pending[t] = categorize_now(ctx, t, vectors[t])
            cats[t] = None if pending[t] else found

    def build(rep) -> Plan:
        vis = check_app(rep, ctx.app, write=True)
        check_embedder(ctx, rep)
        ops = init_ops(ctx, rep) + app_ops(ctx.app, rep)
        events: list[AddEvent] = []
        marked: list[str] = []
        added: set[str] = set()

        def current(mid: str):
            return queries.visible_active(rep, mid, vis)

        def add(t: str) -> None:
            digest = text_hash(t)
            if digest in added:
                return
            added.add(digest)
            row = duplicate(ctx, rep, digest, vis)
            if row is not None:
                events.append(AddEvent(id=row[0], event="NOOP", text=row[1]))
                return
            mid = str(uuid.uuid4())
            ops.append(MemoryAdd(
                id=mid, text=t, hash=digest, vector=encode_vector(vectors[t]), metadata=metadata, categories=cats[t] or [],
                app=ctx.creator,
            ))
            events.append(AddEvent(id=mid, event="ADD", text=t))
            if pending[t]:
                marked.append(mid)

        for d in decisions:
            mid = short.get(d.target or "", "")  # "" when the decision names no memory
            row = current(mid) if mid else None
            if d.event == "ADD":
                assert d.text is not None, "validate_decisions gives every ADD a text"
                add(d.text)
            elif d.event == "UPDATE":
                assert d.text is not None, "validate_decisions gives every UPDATE a text"
                if row is None:
                    add(d.text)  # the memory went away since the model saw it: keep the fact
                elif text_hash(d.text) == text_hash(row[0]):
                    events.append(AddEvent(id=mid, event="NOOP", text=row[0]))
                else:
                    new_cats = None
                    if categories:  # the caller's categories join the memory's, as a verbatim near-duplicate update does
                        new_cats = list(dict.fromkeys([*(row[2] or []), *categories]))
                    elif cats[d.text] is not None:
                        new_cats = cats[d.text]
                    ops.append(MemoryUpdate(
                        id=mid, text=d.text, hash=text_hash(d.text), vector=encode_vector(vectors[d.text]),
                        metadata={**(json.loads(row[1]) if row[1] else {}), **metadata} if metadata else None,
                        categories=new_cats,
                    ))
                    events.append(AddEvent(id=mid, event="UPDATE", text=d.text, previous_text=row[0]))
                    if pending[d.text]:
                        marked.append(mid)
            elif row is not None and d.event == "DELETE":
                ops.append(MemoryState(ids=[mid], state="deleted"))
                events.append(AddEvent(id=mid, event="DELETE", text=row[0]))
            elif row is not None:  # NONE: already known
                events.append(AddEvent(id=mid, event="NOOP", text=row[0]))
        if marked:
            ops.append(pending_op(marked))
        return Plan(ops, (events, marked))

    events, marked = ctx.ns.commit(build, actor=ctx.who)
    after_commit(ctx, marked)
    return AddResult(events=events)
