"""Scheduled upkeep over every namespace: compaction, garbage collection and a bucket backup.

``compact_all``: for each user, when log entries exist past the checkpoint, write a new
checkpoint (immutable objects first, then ``CHECKPOINT`` by If-Match, as ``Namespace.compact``
does); then delete superseded log entries and checkpoints older than ``retention_seconds``.
Each namespace's replica is dropped after its turn, so one run over many users holds one replica
at a time; the checkpoint files go through the machine's object cache (content-addressed,
LRU-bounded), so a warm maintenance container downloads only the segments written since its
last run. A namespace with nothing new is not loaded at all.

``backup``: ``membucket.backup.take_backup`` into the configured target (``MEMBUCKET_BACKUP_URL``):
every namespace at a consistent sequence plus the token store, copying only what the target
lacks, with the manifest written last (see docs/how-it-works.md, "Backup and restore").
Nothing is ever deleted in the target.

Both stop starting new work when ``time_left()`` (a Lambda's remaining time) falls under
``reserve_seconds`` and report what they did not reach; the next run picks it up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .backup import BackupReport, take_backup
from .client import Membucket
from .engine.checkpoint import collect_garbage, read_pointer
from .engine.keys import NamespaceKeys
from .engine.namespace import Namespace, ReplicaRegistry
from .store import ObjectStore

__all__ = ["CompactReport", "BackupReport", "CategorizeReport", "compact_all", "backup", "categorize_all", "run", "TASKS"]

log = logging.getLogger(__name__)

TASKS = ("compact", "backup", "categorize")


@dataclass
class CompactReport:
    namespaces: int = 0
    compacted: int = 0
    log_deleted: int = 0
    checkpoints_deleted: int = 0
    failed: list[str] = field(default_factory=list)
    not_reached: int = 0


def _tail_length(store: ObjectStore, keys: NamespaceKeys, after: int, limit: int) -> int:
    return sum(1 for _ in store.list(keys.log_prefix, start_after=keys.log(after), limit=limit))


def compact_all(
    mb: Membucket,
    *,
    gc: bool = True,
    min_tail: int = 1,
    time_left: Callable[[], float] | None = None,
    reserve_seconds: float = 60.0,
) -> CompactReport:
    """Compact (when ``min_tail`` entries follow the checkpoint) and collect garbage in every namespace."""
    s = mb.settings
    report = CompactReport()
    work_dir = Path(s.cache_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    users = mb.users()
    for i, user in enumerate(users):
        if time_left is not None and time_left() < reserve_seconds:
            report.not_reached = len(users) - i
            break
        report.namespaces += 1
        try:
            keys = NamespaceKeys(user)
            pointer = read_pointer(mb.store, keys)
            if _tail_length(mb.store, keys, pointer.seq if pointer else 0, min_tail) >= min_tail:
                ns = Namespace(
                    mb.store, user, work_dir, compact_after=0, retention_seconds=s.retention_seconds,
                    registry=ReplicaRegistry(max_replicas=1),
                )
                report.compacted += int(ns.compact(gc=False).published)
            if gc:
                result = collect_garbage(mb.store, keys, s.retention_seconds)
                report.log_deleted += result.log_deleted
                report.checkpoints_deleted += result.checkpoints_deleted
        except Exception:  # one broken namespace must not stop the others
            log.exception("maintenance of namespace %s failed", user)
            report.failed.append(user)
    return report


@dataclass
class CategorizeReport:
    namespaces: int = 0
    categorized: int = 0
    failed: int = 0
    not_reached: int = 0


def categorize_all(
    mb: Membucket,
    *,
    batch: int = 100,
    time_left: Callable[[], float] | None = None,
    reserve_seconds: float = 60.0,
) -> CategorizeReport:
    """Fill categories that a write's follow-up could not (model down, process gone): see ops/pending.py.

    Batches of ``batch`` per commit; a namespace stops at the first batch where nothing succeeds
    (the model is still failing), and the next run tries again.
    """
    from .ops.pending import fill_categories, pending_ids

    report = CategorizeReport()
    users = mb.users()
    for i, user in enumerate(users):
        if time_left is not None and time_left() < reserve_seconds:
            report.not_reached = len(users) - i
            break
        report.namespaces += 1
        ctx = mb.context(user)
        try:
            while ids := pending_ids(ctx, batch):
                done = fill_categories(ctx, ids)
                report.categorized += len(done.categorized)
                report.failed += len(done.failed)
                if not done.categorized or (time_left is not None and time_left() < reserve_seconds):
                    break
        except Exception:  # one broken namespace must not stop the others
            log.exception("categorizing namespace %s failed", user)
            report.failed += 1
    return report


def backup(
    src: ObjectStore,
    dst: ObjectStore,
    *,
    time_left: Callable[[], float] | None = None,
    reserve_seconds: float = 60.0,
) -> BackupReport:
    """Back ``src`` up into ``dst``; a run cut short by ``time_left`` writes no manifest (the next resumes)."""
    return take_backup(src, dst, time_left=time_left, reserve_seconds=reserve_seconds)


def run(
    mb: Membucket,
    tasks: tuple[str, ...] | list[str] = TASKS,
    *,
    backup_store: ObjectStore | None = None,
    time_left: Callable[[], float] | None = None,
    reserve_seconds: float = 60.0,
) -> dict:
    """Run the named tasks in order; return a JSON-able report per task (with its seconds).

    With ``time_left``, work stops ``reserve_seconds`` (at most a quarter of the time there is at
    the start) before the deadline.
    """
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown maintenance task(s) {unknown}; known: {', '.join(TASKS)}")
    reserve = min(reserve_seconds, time_left() / 4) if time_left is not None else reserve_seconds
    out: dict = {}
    for task in tasks:
        start = time.perf_counter()
        if task == "compact":
            out[task] = asdict(compact_all(mb, time_left=time_left, reserve_seconds=reserve))
        elif task == "categorize":
            if mb.categorizer is None:
                out[task] = {"skipped": "no categorizer configured"}
            else:
                out[task] = asdict(categorize_all(mb, time_left=time_left, reserve_seconds=reserve))
        elif backup_store is None:
            out[task] = {"skipped": "no backup target configured (MEMBUCKET_BACKUP_URL)"}
        else:
            out[task] = asdict(backup(mb.store, backup_store, time_left=time_left, reserve_seconds=reserve))
        out[task]["seconds"] = round(time.perf_counter() - start, 3)
    return out
