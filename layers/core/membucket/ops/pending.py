"""Categories filled after the write, so a slow or failing model never blocks or fails an add.

A write whose categories are not known yet (the categorizer is ``deferred``, like the LLM one,
or it failed) commits the memory uncategorized plus a ``memory.pending`` op in the same entry.
Right after, ``after_commit`` categorizes and commits a categories-only ``memory.update`` (which
clears the mark): on a background thread when ``categorize_async`` (a server), else inline.
Whatever is still marked (model down, process gone) is filled by ``fill_categories`` from
maintenance or by command. Apps with category deny rules do not see marked memories (fail
closed: a memory about health must not show to an app denied "health" before it is filed).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..engine import queries
from ..engine.namespace import Plan
from ..engine.operations import MemoryPending, MemoryUpdate, Operation
from .context import Context
from .validate import clean_categories

__all__ = ["categorize_now", "pending_op", "after_commit", "fill_categories", "pending_ids", "FillReport", "FOLLOW_UP"]

log = logging.getLogger(__name__)


def is_deferred(categorizer) -> bool:
    """A categorizer that must run after the commit (LLM); looks through the settings' lazy wrapper."""
    resolve = getattr(categorizer, "resolve", None)
    return bool(getattr(resolve() if callable(resolve) else categorizer, "deferred", False))


def categorize_now(ctx: Context, text: str, vector: np.ndarray) -> tuple[list[str], bool]:
    """(categories, pending): an inline categorizer runs here; a deferred or failing one leaves it pending."""
    from .categorize import auto_categories

    if ctx.categorizer is None:
        return [], False
    try:
        deferred = is_deferred(ctx.categorizer)
    except Exception as exc:  # a categorizer that cannot load must not fail the write
        log.warning("categorizer could not be loaded (%s); the memory is stored uncategorized", type(exc).__name__)
        return [], True
    if deferred:
        return [], True
    got = auto_categories(ctx, text, vector)  # user-defined categories included; None if it failed
    if got is None:
        return [], True
    return clean_categories(got, ctx.settings), False


def pending_op(ids: Sequence[str]) -> MemoryPending:
    return MemoryPending(ids=list(ids))


def after_commit(ctx: Context, ids: Sequence[str]) -> None:
    """The follow-up of a write that left ``ids`` pending: background (server) or inline."""
    if not ids or ctx.categorizer is None:
        return
    if ctx.settings.categorize_async:
        FOLLOW_UP.submit(ctx, list(ids))
    else:
        try:
            fill_categories(ctx, list(ids))
        except Exception:  # the write is committed; maintenance retries what is left
            log.warning("filling categories after the write failed", exc_info=True)


@dataclass
class FillReport:
    categorized: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # edited, deleted or categorized meanwhile


def pending_ids(ctx: Context, limit: int = 1000) -> list[str]:
    """Memories (not deleted) still waiting for categories, oldest first."""
    with ctx.ns.read() as rep:
        return queries.pending_ids(rep, limit)


def fill_categories(ctx: Context, ids: Sequence[str] | None = None, *, limit: int = 100) -> FillReport:
    """Categorize pending memories (``ids``, or the oldest ``limit``) and commit them in ONE entry.

    The model is called before the commit; ``build`` only re-checks that each memory is still
    pending with the text that was categorized, so a re-run on conflict never calls it again.
    """
    report = FillReport()
    if ctx.categorizer is None:
        return report
    ids = list(ids) if ids is not None else pending_ids(ctx, limit)
    if not ids:
        return report
    with ctx.ns.read() as rep:
        rows = queries.pending_rows(rep, ids)
    from .categorize import _usable  # as on write: an odd name is dropped, never a memory pending for ever

    found = {r[0] for r in rows}
    report.skipped += [i for i in ids if i not in found]
    done: dict[str, tuple[str, list[str]]] = {}
    for mid, text, digest, blob in rows:
        try:
            cats = _usable(ctx.categorizer(text, np.frombuffer(blob, dtype="<f4")), ctx.settings.max_categories)
        except Exception as exc:  # stays pending for the next attempt
            log.warning("categorizing memory %s failed: %s", mid, type(exc).__name__)
            report.failed.append(mid)
            continue
        done[mid] = (digest, cats)
    if not done:
        return report

    def build(rep) -> Plan:
        ops: list[Operation] = []
        ids: list[str] = []
        for mid, (digest, cats) in done.items():
            if queries.pending_hash(rep, mid) == digest:
                ops.append(MemoryUpdate(id=mid, categories=cats))
                ids.append(mid)
        return Plan(ops, ids)

    committed = ctx.ns.commit(build, actor=ctx.who) or []
    report.categorized += committed
    report.skipped += [i for i in done if i not in committed]
    return report


class FollowUpWorker:
    """Runs follow-ups on one background thread, so a write answers before the model does.

    A follow-up lost with the process leaves its memories marked; maintenance fills them.
    ``flush()`` runs at exit (the CLI) and in tests.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, ctx: Context, ids: list[str]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="membucket-categorize", daemon=True)
                self._thread.start()
        self._queue.put((ctx, ids))

    def _run(self) -> None:
        while True:
            ctx, ids = self._queue.get()
            try:
                fill_categories(ctx, ids)
            except Exception:
                log.warning("filling categories in the background failed; maintenance will retry", exc_info=True)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        self._queue.join()


FOLLOW_UP = FollowUpWorker()
atexit.register(FOLLOW_UP.flush)
