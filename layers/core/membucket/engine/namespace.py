"""One user's memory: read (sync, then query) and commit (claim the next log number) on a replica.

Commit protocol:

1. Under the replica's lock, sync to the newest entry S (on S3, one LIST after the replica's
   sequence: see replica.py).
2. ``build(replica)`` validates the request against current state and returns the ops to write
   (or none: nothing to commit). Validation errors propagate: nothing is written.
3. PUT ``log/<S+1>`` with ``If-None-Match: *``.
   - 200: committed. Apply the entry locally and acknowledge.
   - 412: S+1 is taken. GET it: our ``txid`` means our write landed and only its response was
     lost (the SDK retried into our own object): acknowledge with this plan's answer. Otherwise
     apply the winner's entry (one round trip), back off (jittered), go to 1 and re-validate.
     The next sync (on S3 one LIST) then starts after S+1.
   - 409: a conflicting PUT of the same key is in flight. Back off, retry the SAME number.
   - transport failure after the SDK's retries: the outcome is unknown. GET S+1 as for a 412;
     if nothing is there, go to 1 (a later sync showing our ``txid`` also means it landed).
4. After ``commit_attempts`` tries, give up with CommitContention (HTTP 503, Retry-After).

Commits race and are not fair. On a directory store, a commit that has waited longer than
``STARVED_AFTER_SECONDS`` takes the store's writer turn (store/priority.py) for its remaining
attempts, and the other writers stand aside before their PUT while it is held: the worst wait
with 8 writers looping on one namespace (80 adds each) fell from 3.2-3.6 s to 1.2-1.3 s
(bench/README.md).

A write is acknowledged only once its log object exists.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import enum
import gc
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CommitContention, StoreUnavailable
from ..store import IF_ABSENT, ConflictInFlight, NotFound, ObjectStore, PreconditionFailed, Unavailable
from ..store.priority import WriterPriority
from .checkpoint import GcResult, collect_garbage, move_pointer, read_pointer
from .claims import claim_compaction
from .incremental import Prepared, prepare, upload
from .keys import NamespaceKeys
from .log import CorruptEntry, LogEntry
from .operations import Operation
from .replica import Replica

__all__ = ["Namespace", "Plan", "CommitStats", "ReplicaRegistry", "CompactResult", "PutOutcome"]

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """What a write wants to commit, and what to answer once it is committed."""

    ops: list[Operation]
    result: Any = None


class PutOutcome(enum.Enum):
    """What one conditional PUT of ``log/<seq>`` tells the writer (step 3 of the protocol)."""

    OK = "ok"  # the entry is ours
    LOST = "lost"  # 412: another writer took the number
    AMBIGUOUS = "ambiguous"  # 412 after a failed attempt of ours: maybe ours landed (the txid tells)


@dataclass
class CommitStats:
    """Process-wide counters, read by metrics (commits, conflicts, retries)."""

    commits: int = 0
    conflicts: int = 0
    in_flight_retries: int = 0
    transport_retries: int = 0


STATS = CommitStats()


@dataclass
class CompactResult:
    seq: int
    published: bool
    gc: GcResult = field(default_factory=GcResult)
    bytes_uploaded: int = 0  # new segments and the manifest


STARVED_AFTER_SECONDS = 1.0  # a commit waiting longer takes the store's writer turn, if it has one


def _backoff(attempt: int, base: float = 0.002, cap: float = 0.25) -> None:
    """Full jitter: without it, writers that all got 412 retry in lockstep and collide again."""
    time.sleep(random.uniform(0, min(cap, base * (2 ** min(attempt, 10)))))


class ReplicaRegistry:
    """Process-wide replicas, one per (store, user), kept warm across requests.

    Bounded least-recently-used by count and by estimated bytes (``Replica.footprint``): one
    warm container serves many users, and a replica per user ever seen would outgrow the
    function's memory. A replica in use (its lock held by another request) is never evicted;
    an evicted replica frees its memory and reloads if a request still holding it syncs again.
    """

    def __init__(self, max_replicas: int = 64, max_bytes: int | None = None) -> None:
        self.max_replicas = max_replicas
        self.max_bytes = max_bytes
        self.evictions = 0
        self._lock = threading.Lock()
        self._replicas: collections.OrderedDict[tuple[str, str, str], Replica] = collections.OrderedDict()

    def configure(self, max_replicas: int | None = None, max_bytes: int | None = None) -> None:
        """Set the bounds (from Settings: ``membucket.limits``); None leaves a bound as it is."""
        with self._lock:
            if max_replicas is not None:
                self.max_replicas = max_replicas
            if max_bytes is not None:
                self.max_bytes = max_bytes

    def get(self, store: ObjectStore, keys: NamespaceKeys, cache_dir: Path) -> Replica:
        key = (store.url, keys.user, str(cache_dir))
        with self._lock:
            replica = self._replicas.get(key)
            if replica is None:
                replica = Replica(store, keys, cache_dir)
                self._replicas[key] = replica
            self._replicas.move_to_end(key)
            self._evict(keep=replica)
            return replica

    def footprint(self) -> int:
        """Estimated bytes the kept replicas hold."""
        with self._lock:
            return sum(r.footprint for r in self._replicas.values())

    def _over(self, total: int) -> bool:
        return len(self._replicas) > self.max_replicas or (self.max_bytes is not None and total > self.max_bytes)

    def _evict(self, keep: Replica) -> None:
        """Drop least-recently-used replicas until within bounds, skipping any in use."""
        total = sum(r.footprint for r in self._replicas.values())
        for key in list(self._replicas):
            if not self._over(total):
                return
            replica = self._replicas[key]
            if replica is keep or _owned(replica) or not replica.lock.acquire(blocking=False):
                continue  # in use by a request: never pulled from under it
            try:
                total -= replica.footprint
                replica.unload()
            finally:
                replica.lock.release()
            del self._replicas[key]
            self.evictions += 1

    def trim(self) -> None:
        """Evict down to the bounds (after a request, when footprints have grown)."""
        with self._lock:
            newest = next(reversed(self._replicas.values()), None)
            if newest is not None:
                self._evict(keep=newest)

    def replicas(self) -> list[Replica]:
        """The replicas this process keeps warm (for metrics such as cache hits)."""
        with self._lock:
            return list(self._replicas.values())

    def clear(self) -> None:
        with self._lock:
            self._replicas.clear()

    def close(self) -> None:
        """Close every replica's DuckDB connection and forget the replicas. Run at exit: a
        connection still open when the interpreter tears DuckDB down makes nanobind print
        dozens of ``leaked instance`` lines that read like a crash."""
        with self._lock:
            replicas = list(self._replicas.values())
            self._replicas.clear()
        for replica in replicas:
            replica.close()
        gc.collect()  # DuckDB objects caught in reference cycles go before the module does


def _owned(replica: Replica) -> bool:
    """The lock is reentrant: this thread holding it (a nested request) still means in use."""
    is_owned = getattr(replica.lock, "_is_owned", None)
    return bool(is_owned()) if is_owned is not None else False


REGISTRY = ReplicaRegistry()
atexit.register(REGISTRY.close)


class Namespace:
    def __init__(
        self,
        store: ObjectStore,
        user: str,
        cache_dir: Path | str,
        *,
        commit_attempts: int = 200,
        commit_timeout_seconds: float = 30.0,
        compact_after: int = 500,
        compact_fraction: float = 0.1,
        compact_min_bytes: int = 1 << 20,
        retention_seconds: float = 600.0,
        registry: ReplicaRegistry | None = None,
    ) -> None:
        self.store = store
        self.keys = NamespaceKeys(user)
        self.cache_dir = Path(cache_dir)
        self.commit_attempts = commit_attempts
        self.commit_timeout_seconds = commit_timeout_seconds
        self.compact_after = compact_after
        self.compact_fraction = compact_fraction
        self.compact_min_bytes = compact_min_bytes
        self.retention_seconds = retention_seconds
        self.registry = registry or REGISTRY
        self.replica = self.registry.get(store, self.keys, self.cache_dir)

    @property
    def user(self) -> str:
        return self.keys.user

    @contextmanager
    def read(self) -> Iterator[Replica]:
        """Sync, then hold the replica for querying."""
        with self.replica.lock:
            self._sync()
            yield self.replica

    @contextmanager
    def current(self) -> Iterator[Replica]:
        """Hold the replica as this process last saw it: no store round trip unless it was never
        loaded. For reads that tolerate a few entries' lag and precede a commit (which syncs)."""
        with self.replica.lock:
            if not self.replica.loaded:
                self._sync()
            yield self.replica

    def _sync(self) -> None:
        try:
            self.replica.sync()
        except Unavailable as exc:
            raise StoreUnavailable(f"the store is unavailable: {exc}") from exc
        self.registry.trim()  # a first load grew the footprint: others may have to go

    def commit(self, build: Callable[[Replica], Plan | None], actor: str | None = None) -> Any:
        deadline = time.monotonic() + self.commit_timeout_seconds
        with self._locked(deadline):
            committed, result = self._commit_locked(build, actor, deadline)
        if committed:
            self._maybe_compact()
        return result

    @contextmanager
    def _locked(self, deadline: float) -> Iterator[None]:
        """The replica's lock, waited for no longer than the commit's deadline (a stalled holder
        must not turn every queued request into a 30 s+ wait)."""
        if not self.replica.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise CommitContention(
                f"could not commit within {self.commit_timeout_seconds:g} s (waiting for this namespace's replica); retry later"
            )
        try:
            yield
        finally:
            self.replica.lock.release()

    def _commit_locked(
        self, build: Callable[[Replica], Plan | None], actor: str | None, deadline: float
    ) -> tuple[bool, Any]:
        """The protocol's loop, under the lock: (committed, the answer)."""
        priority = self._priority()
        with contextlib.ExitStack() as turn:
            return self._attempts(build, actor, deadline, priority, turn)

    def _priority(self) -> WriterPriority | None:
        """The store's starved-writer turn for this log (directory stores: store/priority.py)."""
        make = getattr(self.store, "writer_priority", None)
        return make(self.keys.log_prefix) if make is not None else None

    def _attempts(
        self, build: Callable[[Replica], Plan | None], actor: str | None, deadline: float,
        priority: WriterPriority | None, turn: contextlib.ExitStack,
    ) -> tuple[bool, Any]:
        txid = LogEntry(seq=0, ops=[]).txid
        written: Plan | None = None
        started = deadline - self.commit_timeout_seconds
        holding = False
        for attempt in range(self.commit_attempts):
            if attempt and time.monotonic() > deadline:
                break
            if priority is not None and not holding and time.monotonic() - started > STARVED_AFTER_SECONDS:
                holding = turn.enter_context(priority.hold(deadline))  # the others stand aside
            try:
                self.replica.sync(writing=True)
            except Unavailable:
                STATS.transport_retries += 1
                _backoff(attempt)
                continue
            if written is not None and txid in self.replica.recent_txids:
                return self._committed(written)  # an ambiguous PUT had landed
            plan = build(self.replica)
            if plan is None or not plan.ops:
                return False, None if plan is None else plan.result
            if priority is not None and not holding and priority.claimed():
                priority.wait_turn(deadline)  # a starved writer goes first; then sync again
                continue
            entry = LogEntry(seq=self.replica.seq + 1, ops=[op.to_dict() for op in plan.ops], actor=actor, txid=txid)
            body = entry.encode()
            outcome = self._put_entry(entry.seq, body, attempt)
            if outcome is not PutOutcome.OK:
                # Even a plain 412 may be our own entry (the SDK retried a PUT whose response was
                # lost): if the read below fails, a later sync showing our txid still tells.
                written = plan
                if self._resolve_taken(entry.seq, txid):
                    return self._committed(plan)  # a response was lost, but the entry is ours
                if outcome is PutOutcome.LOST:
                    STATS.conflicts += 1
                    _backoff(attempt)
                continue
            self.replica.apply(LogEntry.decode(body, entry.seq))
            self.replica.note_tail(len(body))
            return self._committed(plan)
        raise CommitContention(
            f"could not commit within {self.commit_timeout_seconds:g} s / {self.commit_attempts} attempts "
            "(contention or store errors); retry later"
        )

    def _put_entry(self, seq: int, body: bytes, attempt: int) -> PutOutcome:
        """PUT log/<seq> if absent: OK, LOST (412: another writer), or AMBIGUOUS (maybe ours)."""
        uncertain = False
        for retry in range(10):
            try:
                self.store.put(self.keys.log(seq), body, IF_ABSENT)
                return PutOutcome.OK
            except PreconditionFailed:
                # After a failed attempt of ours, the winner may be that attempt: the txid tells.
                return PutOutcome.AMBIGUOUS if uncertain else PutOutcome.LOST
            except ConflictInFlight:
                STATS.in_flight_retries += 1
            except Unavailable:
                STATS.transport_retries += 1
                uncertain = True
            _backoff(retry)
        return PutOutcome.AMBIGUOUS if uncertain else PutOutcome.LOST

    def _resolve_taken(self, seq: int, txid: str) -> bool:
        """After a 412 (or an unknown outcome) on ``log/<seq>``: read the entry that holds the
        number. True if it is ours (the write landed; SDK retries turn a lost response into a 412);
        otherwise apply the winner's entry, so the next attempt re-plans without a second read."""
        try:
            raw = self.store.get(self.keys.log(seq)).body
            landed = LogEntry.decode(raw, seq)
        except (NotFound, Unavailable, CorruptEntry):
            return False  # nothing there (the attempt did not land) or unreadable: sync decides
        if seq != self.replica.seq + 1:
            return False
        self.replica.apply(landed)
        self.replica.note_tail(len(raw))  # the compaction trigger counts a winner's bytes too
        return landed.txid == txid

    def _committed(self, plan: Plan) -> tuple[bool, Any]:
        STATS.commits += 1
        return True, plan.result

    def due(self) -> bool:
        """A checkpoint is due: ``compact_after`` entries past the last one (the tail a cold replica
        replays stays short), or log bytes past ``compact_fraction`` of the checkpoint's bytes (at
        least ``compact_min_bytes``), so bytes written per add stay bounded as the namespace grows."""
        rep = self.replica
        tail = rep.seq - rep.checkpoint_seq
        if not self.compact_after or tail <= 0:
            return False
        return tail >= self.compact_after or rep.tail_bytes >= max(self.compact_fraction * rep.checkpoint_bytes, self.compact_min_bytes)

    def _maybe_compact(self) -> None:
        """Checkpoint past the threshold, after the commit released the lock; one writer per
        checkpoint (the claim), so several servers crossing the threshold together upload once."""
        if self.due():
            try:
                self.compact(claim=True)
            except Exception:  # compaction is an optimisation; the commit already succeeded
                log.exception("automatic compaction of %s failed", self.keys.root)

    # -- maintenance -----------------------------------------------------------------------
    def compact(self, gc: bool = True, *, claim: bool = False) -> CompactResult:
        """Write a checkpoint at the current sequence, move the pointer, then collect garbage.

        The diff against the current checkpoint and the new segment files are made under the
        replica's lock (engine/incremental.py); the upload happens outside it, so commits and reads
        on this replica go on meanwhile. With ``claim`` (automatic compaction), the writer first
        claims the checkpoint that replaces the current pointer (``claim_compaction``): if another
        writer holds that claim, or the threshold (``due``) is no longer reached once it holds the
        lock, nothing is uploaded and GC is left to the writer that published."""
        published = False
        prepared: Prepared | None = None
        with self.replica.lock:
            self._sync()
            rep = self.replica
            pointer = read_pointer(self.store, self.keys)
            seq = rep.seq
            todo = seq > 0 and (pointer is None or pointer.seq < seq)
            if todo and claim:
                # The threshold counts from the newest checkpoint, not from the one this replica
                # last saw: another writer may have published since. And the caller decided before
                # it held the lock: another request on this replica may have checkpointed while it
                # waited, so the threshold is checked again here, in every case.
                if pointer is not None and pointer.seq > rep.checkpoint_seq:
                    rep.mark_checkpointed(pointer.seq)
                todo = self.due() or not self.compact_after
            if todo and claim:
                todo = claim_compaction(self.store, self.keys, pointer.seq if pointer else 0, seq)
                if todo:
                    # The claim on our base may be new only because the writer that held it has
                    # published and GC collected its claim since we read the pointer: re-read it,
                    # and leave a generation that is already written alone.
                    latest = read_pointer(self.store, self.keys)
                    todo = latest is None or (pointer is not None and latest.seq <= pointer.seq)
            if todo:
                prepared = prepare(self.store, self.keys, rep, pointer)
        uploaded = 0
        if prepared is not None:
            try:
                new = upload(self.store, self.keys, prepared)
                uploaded = prepared.bytes_uploaded
                published = move_pointer(self.store, self.keys, new, pointer) is not None
            finally:
                prepared.release()
        if published and prepared is not None:
            with self.replica.lock:
                self.replica.mark_checkpointed(seq, prepared.manifest.data_bytes)
        result = CompactResult(seq=seq, published=published, bytes_uploaded=uploaded)
        if gc and (published or not claim):  # an automatic compaction that wrote nothing leaves GC to the one that did
            result.gc = collect_garbage(self.store, self.keys, self.retention_seconds)
        return result
