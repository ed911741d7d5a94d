"""Categories from the configured categorizer: on write (``auto_categories``) and in bulk (``recategorize``).

Categories are computed only when a memory's text is written (add, update with new text);
categories the caller gives win. A failing categorizer never loses a write: the memory is
stored without categories and the failure is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ..categorize.base import Categorizer
from ..engine import queries
from ..engine.namespace import Plan
from ..engine.operations import MemoryUpdate, Operation
from ..errors import InvalidInput, LlmUnavailable, NotFoundError
from ..llm.client import LlmError
from .access import check_app
from .category_defs import custom_defs
from .context import Context
from .validate import clean_ids

__all__ = ["auto_categories", "categorize_vectors", "recategorize", "RecategorizeResult", "BATCH"]

log = logging.getLogger(__name__)
BATCH = 200  # memories per commit
APP_STATES = ("active",)  # as in ops.memories (which imports this module): apps see active memories only
_NAME = re.compile(r"^[\w&/ .+-]{1,64}$", re.UNICODE)


def _usable(names: Sequence[str], limit: int) -> list[str]:
    """A categorizer's answer as valid category names (an odd name is dropped, not a 400)."""
    out: list[str] = []
    for n in names or ():
        if not isinstance(n, str) or not _NAME.match(n.strip()):
            continue
        name = n.strip().lower().replace("i\u0307", "i")  # as clean_categories
        if name not in out:
            out.append(name)
    return out[:limit]


def _resolve(cat: Categorizer) -> Categorizer:
    resolve = getattr(cat, "resolve", None)
    return resolve() if callable(resolve) else cat


def categorize_vectors(cat: Categorizer, texts: Sequence[str], vectors: np.ndarray, custom: Sequence = ()) -> list[list[str]]:
    """Categories for many memories: one matrix product for the zero-shot categorizer, else one call each."""
    cat = _resolve(cat)
    if getattr(cat, "supports_custom", False):
        many = getattr(cat, "categorize_many", None)
        if many is not None:
            return [list(c) for c in many(vectors, custom)]
        with_custom: Callable[..., Sequence[str]] = cat  # it said it takes ``custom``
        return [list(with_custom(t, v, custom=custom)) for t, v in zip(texts, vectors)]
    return [list(cat(t, v)) for t, v in zip(texts, vectors)]


def auto_categories(ctx: Context, text: str, vector: np.ndarray) -> list[str] | None:
    """What the categorizer says about newly written text (None when there is none or it fails)."""
    if ctx.categorizer is None:
        return None
    try:
        cat = _resolve(ctx.categorizer)
    except Exception:  # a misconfigured categorizer must not refuse the memory either
        log.warning("categorizer could not be loaded; storing the memory without new categories", exc_info=True)
        return None
    custom: tuple = ()
    if getattr(cat, "supports_custom", False):
        # Definitions as this process last saw them: a write must not pay a second store round
        # trip for them (its commit syncs anyway); a definition made elsewhere a moment ago
        # applies from this process's next sync, and recategorize catches up.
        with ctx.ns.current() as rep:
            custom = custom_defs(rep)
    try:
        got = categorize_vectors(cat, [text], np.asarray(vector).reshape(1, -1), custom)[0]
    except Exception:  # a categorizer outage must not refuse the memory
        log.warning("categorizer failed; storing the memory without new categories", exc_info=True)
        return None
    return _usable(got, ctx.settings.max_categories)


@dataclass
class RecategorizeResult:
    scanned: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0  # edited, deleted or hidden while the run went on
    commits: int = 0
    changed_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _targets(ctx: Context, ids: list[str] | None, only_missing: bool) -> tuple[list[tuple], tuple]:
    """(id, hash, text, vector, categories) of the memories to run over, and the custom definitions."""
    with ctx.ns.read() as rep:
        vis = check_app(rep, ctx.app, write=True)
        states = list(APP_STATES) if ctx.app is not None else ["active", "paused", "archived"]
        if ids is not None:
            found = queries.found_ids(rep, ids, states, vis)
            missing = [i for i in ids if i not in found]
            if missing:  # unknown and invisible look the same: never confirm what an app may not see
                raise NotFoundError(f"{len(missing)} memory id(s) not found: {', '.join(missing[:5])}", ids=missing[:50])
        rows = queries.category_targets(rep, ids, states, vis, only_missing=only_missing)
        return rows, custom_defs(rep)


def recategorize(
    ctx: Context,
    ids: Sequence[str] | None = None,
    *,
    only_missing: bool = False,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> RecategorizeResult:
    """Re-run the categorizer over the caller's visible memories (or ``ids``), one commit per batch.

    Only memories whose categories change are written (``memory.update`` with categories only).
    A memory edited, deleted or hidden from the caller since it was read is skipped. ``progress``
    is called with (done, total) after each batch.
    """
    if ids is not None:
        ids = clean_ids(list(ids) if not isinstance(ids, str) else ids, ctx.settings)
    rows, custom = _targets(ctx, ids, only_missing)  # access checks come first: a paused app learns nothing
    if ctx.categorizer is None:
        raise InvalidInput("no categorizer is configured (MEMBUCKET_CATEGORIZER=off)")
    result = RecategorizeResult()
    total = len(rows)
    if progress:
        progress(0, total)
    for start in range(0, total, batch):
        chunk = rows[start:start + batch]
        vectors = np.stack([np.frombuffer(r[3], dtype="<f4") for r in chunk])
        try:
            proposed = categorize_vectors(ctx.categorizer, [r[2] for r in chunk], vectors, custom)
        except LlmError as exc:  # batches committed so far stay; the rest is a clear 503, not a 500
            raise LlmUnavailable(f"the categorizer failed: {exc}", changed=result.changed) from None
        new = {r[0]: (r[1], list(r[4] or []), _usable(c, ctx.settings.max_categories)) for r, c in zip(chunk, proposed)}
        result.scanned += len(chunk)
        outcome = ctx.ns.commit(_batch_plan(ctx, new), actor=ctx.who)
        changed, unchanged, skipped = outcome
        result.changed += len(changed)
        result.unchanged += unchanged
        result.skipped += skipped
        result.changed_ids += changed
        result.commits += bool(changed)
        if progress:
            progress(min(start + batch, total), total)
    return result


def _batch_plan(ctx: Context, new: dict[str, tuple[str, list[str], list[str]]]) -> Callable:
    """``new``: id -> (hash and categories when read, proposed categories). A memory whose text or
    categories changed since it was read was edited meanwhile: skipped, never overwritten."""
    def build(rep) -> Plan:
        vis = check_app(rep, ctx.app, write=True)
        ids = list(new)
        rows = queries.memory_heads(rep, ids)
        changed, unchanged, skipped = list[str](), 0, 0
        ops: list[Operation] = []
        for mid, digest, state, cats in rows:
            cats = list(cats or [])
            read_hash, read_cats, want = new[mid]
            hidden = state == "deleted" or (ctx.app is not None and (state not in APP_STATES or not vis.allows(mid, cats)))
            if hidden or digest != read_hash or cats != read_cats:
                skipped += 1
            elif cats == want:
                unchanged += 1
            else:
                changed.append(mid)
                ops.append(MemoryUpdate(id=mid, categories=want))
        skipped += len(ids) - len(rows)
        return Plan(ops, (changed, unchanged, skipped))

    return build
