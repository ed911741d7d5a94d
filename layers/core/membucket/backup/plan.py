"""Restore plans: which checkpoint and which log entries give a namespace's state at a point.

A point is a sequence, or a time mapped to a sequence: the end of the run of retained entries
committed (by their own timestamp) at or before that time. The plan is the newest checkpoint
at or below the sequence plus every entry after it up to the sequence; a point whose entries
are not all retained is refused. ``replay`` carries a plan out into a local replica, reading
the backup's objects (as ``membucket backup verify`` and ``restore --force`` do).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..engine.checkpoint import Pointer
from ..engine.keys import NamespaceKeys
from ..engine.log import LogEntry, parse_ts
from ..engine.replica import Replica
from ..errors import BackupUnusable
from ..store import ObjectStore
from .manifest import NamespaceRecord

__all__ = ["RestorePlan", "plan_restore", "seq_at_time", "replay"]


@dataclass(frozen=True)
class RestorePlan:
    user: str
    seq: int
    checkpoint: dict | None  # {"seq", "dir", ...} from the manifest, or None (replay from entry 1)
    entries: list[int]  # sequences to apply after the checkpoint, in order


def seq_at_time(user: str, rec: NamespaceRecord, when: datetime) -> int:
    """The last sequence committed at or before ``when`` (naive UTC). BackupUnusable when outside the retained log."""
    entries = sorted((int(s), parse_ts(ts)) for s, ts in rec.log)
    last = None
    for seq, ts in entries:  # the run of entries committed by then (stop at the first one after)
        if ts > when:
            break
        last = seq
    # A checkpoint created by then holds a state committed by then, even when its log was collected.
    cutoff = when.replace(tzinfo=UTC).timestamp()
    ckpt = max((c["seq"] for c in rec.checkpoints if c["created_at"] <= cutoff and c["seq"] <= rec.seq), default=None)
    candidates = [s for s in (last, ckpt) if s is not None]
    if candidates:
        return max(candidates)
    if (entries and entries[0][0] == 1) or (not entries and not rec.checkpoints):
        return 0  # the whole log is retained and nothing was committed yet: the namespace was empty
    raise BackupUnusable(f"{when.isoformat()}Z is before the retained history of user {user!r}", user=user)


def plan_restore(user: str, rec: NamespaceRecord, seq: int | None = None) -> RestorePlan:
    """The plan for ``seq`` (default: the recorded sequence). BackupUnusable when it cannot be reached."""
    target = rec.seq if seq is None else seq
    if target < 0 or target > rec.seq:
        raise BackupUnusable(f"user {user!r}: sequence {target} is outside this backup (0..{rec.seq})", user=user)
    have = {int(s) for s, _ in rec.log}
    ckpt = max((c for c in rec.checkpoints if c["seq"] <= target), key=lambda c: c["seq"], default=None)
    base = ckpt["seq"] if ckpt is not None else 0
    needed = list(range(base + 1, target + 1))
    missing = [s for s in needed if s not in have]
    if missing:
        raise BackupUnusable(
            f"user {user!r}: sequence {target} needs log entries the backup lacks (first: {missing[0]}); "
            "the log before the oldest retained checkpoint was collected", user=user,
        )
    return RestorePlan(user=user, seq=target, checkpoint=ckpt, entries=needed)


def replay(objects: ObjectStore, plan: RestorePlan, cache_dir: Path, sha256: Callable[[str], str | None] | None = None) -> Replica:
    """A replica at exactly ``plan.seq``, built from the backup's objects.

    The checkpoint's files are checked against its meta.json (format 1) or manifest (format 2); each log entry against
    ``sha256(key)`` (the manifest's checksum) when given: restore must not apply a damaged entry.
    """
    keys = NamespaceKeys(plan.user)
    rep = Replica(objects, keys, cache_dir)
    rep.mark_loaded()
    if plan.checkpoint is not None:
        rep.load_checkpoint(Pointer(seq=plan.checkpoint["seq"], dir=plan.checkpoint["dir"], format=plan.checkpoint.get("format")))
    batch: list[LogEntry] = []
    for seq in plan.entries:
        body = objects.get(keys.log(seq)).body
        if sha256 is not None and hashlib.sha256(body).hexdigest() != sha256(keys.log(seq)):
            raise BackupUnusable(f"log entry {keys.log(seq)} does not match its checksum", user=plan.user)
        batch.append(LogEntry.decode(body, seq))
        if len(batch) >= 256:
            rep.apply(batch)
            batch = []
    if batch:
        rep.apply(batch)
    if rep.seq != plan.seq:
        raise BackupUnusable(f"user {plan.user!r}: replay reached sequence {rep.seq}, not {plan.seq}", user=plan.user)
    return rep
