"""A replica: one namespace's state in this process (in-memory DuckDB + FAISS) at sequence ``seq``.

Sync plan (read = sync, then query):

1. Cold: read ``CHECKPOINT``; if present, fetch what it names (verified by sha256, cached per
   machine under ``<cache_dir>/objects``). Formats 2 and 3: the manifest's segments (and parts),
   concurrently, read into the tables with DuckDB's read_parquet (newest record per key,
   tombstones dropped), while two other connections build the FAISS index from the vectors and
   the BM25 index from the stored terms. Format 1: copy the DuckDB file into memory and load
   the index, checking it against DuckDB's active rows (rebuilt from the vectors on mismatch).
   A format newer than this version knows raises StoreFormatTooNew: nothing is loaded or written.
2. Learn what is new, at a cost that grows with the new entries, not with the history:
   - probes (reads; every sync on a directory store): GET ``log/<seq+1>``, ``log/<seq+2>``, ...
     until one is missing, then read ``CHECKPOINT``: newer than the replica means the missing
     number was removed by GC (the replica fell behind a checkpoint): reload from it and go on.
     Otherwise the missing number is the head.
   - one LIST strictly after ``log/<seq>`` (a writer's sync and a cold tail, on stores where that
     costs one request: S3), then the listed entries' GETs (parallel for a cold or long tail).
     An empty listing is the head without a ``CHECKPOINT`` read: GC deletes only entries at or
     below the previous checkpoint, so entries up to the current one always exist above a gap.
     A first key past ``seq+1`` is a gap: reload from ``CHECKPOINT``. Reads keep the probes: a
     LIST is priced like ~12 GETs.
4. A ``namespace.restore`` entry (``membucket restore --force``) names a checkpoint holding the
   state at that entry's own sequence: the replica loads it in place of applying ops.

Each process keeps its own replica in memory, so several processes on one machine never share
a mutable file; what they share (downloaded checkpoint files) is immutable and content-addressed.
Callers hold ``lock`` while syncing and querying: DuckDB connections are not for concurrent use.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..store import NotFound, ObjectStore
from .checkpoint import CorruptCheckpoint, Pointer, cached_object, check_inside, checkpoint_format, fetch_checkpoint, read_manifest, read_pointer
from .index import VectorIndex
from .keys import NamespaceKeys
from .lexical import LexicalIndex
from .log import LogEntry
from .objcache import release
from .operations import ACL_OPS, NamespaceRestore, op_name, parse_op
from .queries import Memo, forget
from .replay import apply_entries
from .segments import Manifest, active_vectors, fetch_segments, lexical_index, load_tables, segment_files
from .tables import Connection, connect, create_schema, vector_rows

__all__ = ["Replica", "RESTORE_OP"]

RESTORE_OP = NamespaceRestore.OP  # a log entry that replaces the namespace's state with a checkpoint

_READ_AHEAD = 16  # log GETs in flight while a replica catches up
_LIST_PAGE = 1000  # one S3 LIST page
_IN_ORDER_UP_TO = 8  # a writer's sync GETs this many listed entries one by one (see _list_forward)
_READERS = ThreadPoolExecutor(_READ_AHEAD, thread_name_prefix="log-read")
_T = TypeVar("_T")
_SIDE = ThreadPoolExecutor(4, thread_name_prefix="index-build")  # two per cold load


def _vector_index(con: Connection, manifest: Manifest, files: dict[str, Path]) -> VectorIndex | None:
    """The FAISS index of the checkpoint's active memories (None before an embedder is set)."""
    dim = manifest.kv.get("dim")
    if not dim:
        return None
    index = VectorIndex(int(dim))
    index.add(*active_vectors(con, manifest, files))
    return index


def _on_own_connection(build: Callable[[Connection, Manifest, dict[str, Path]], _T], manifest: Manifest, files: dict[str, Path]) -> _T:
    """Run ``build`` on a fresh one-thread DuckDB connection (the replica's is busy loading)."""
    con = connect(threads=1)
    try:
        return build(con, manifest, files)
    finally:
        con.close()

log = logging.getLogger(__name__)


class Replica:
    def __init__(self, store: ObjectStore, keys: NamespaceKeys, cache_dir: Path) -> None:
        self.store = store
        self.keys = keys
        self.cache_dir = Path(cache_dir)
        self.lock = threading.RLock()
        self.recent_txids: collections.deque[str] = collections.deque(maxlen=256)
        self.cache_hits = 0
        self.footprint = 0  # estimated bytes in memory (``measure``), for the registry's bound
        self._reset()

    # -- state -----------------------------------------------------------------------------
    def _reset(self, schema: bool = True) -> None:
        self.con = connect()
        if schema:
            create_schema(self.con)
        self.seq = 0
        self.checkpoint_seq = 0
        self.checkpoint_bytes = 0  # bytes of data the loaded (or last written) checkpoint names
        self.tail_bytes = 0  # bytes of log entries applied since that checkpoint
        self.embedder: str | None = None
        self.dim: int | None = None
        self.next_vid = 1
        self.index: VectorIndex | None = None
        self.lexical: LexicalIndex | None = None  # built on first use, then kept in step by replay
        self.loaded = False
        self.access_after = ""  # newest access-log key ingested into the access_log table
        self.version = 0  # bumps on every change; ``memo`` is cleared with it
        self.memo: Memo = {}

    # -- the state changes replay and writers make (nothing outside assigns these attributes) --
    def set_embedder(self, embedder: str, dim: int) -> None:
        self.embedder, self.dim = embedder, dim
        if self.index is None or self.index.dim != dim:
            self.index = VectorIndex(dim)

    def switch_embedder(self, embedder: str, dim: int) -> None:
        """A new vector space (embedder.switch): the vectors in DuckDB are already the new ones."""
        self.embedder, self.dim = embedder, dim
        self.index = VectorIndex(dim)
        self.rebuild_index()

    def take_vids(self, n: int) -> np.ndarray:
        """The next ``n`` internal vector ids (FAISS ids), in order; never reused."""
        vids = np.arange(self.next_vid, self.next_vid + n, dtype=np.int64)
        self.next_vid += n
        return vids

    def advance(self, seq: int) -> None:
        """The replica now holds every entry up to ``seq``."""
        self.seq = seq

    def mark_loaded(self) -> None:
        """Built by hand (a restore replays a backup into it): never load ``CHECKPOINT`` on sync."""
        self.loaded = True

    def mark_checkpointed(self, seq: int | None = None, nbytes: int | None = None) -> None:
        """A checkpoint at ``seq`` (default: the current sequence), naming ``nbytes`` of data, was published."""
        seq = self.seq if seq is None else seq
        if seq > self.checkpoint_seq:
            self.checkpoint_seq = seq
            self.tail_bytes = 0
            if nbytes is not None:
                self.checkpoint_bytes = nbytes

    def note_tail(self, nbytes: int) -> None:
        """Log bytes applied past the checkpoint (the compaction trigger compares them with its size)."""
        self.tail_bytes += nbytes

    def mark_access_ingested(self, newest_key: str) -> None:
        """Access-log records up to ``newest_key`` are in the access_log table; persisted with the counters."""
        self.access_after = newest_key
        self.save_kv()

    def save_kv(self) -> None:
        """Persist the replica's counters in its DuckDB, so a checkpoint carries them."""
        self.con.execute(
            "UPDATE kv SET seq = ?, embedder = ?, dim = ?, next_vid = ?, access_after = ?",
            [self.seq, self.embedder, self.dim, self.next_vid, self.access_after],
        )

    def _load_kv(self) -> None:
        row = self.con.execute("SELECT seq, embedder, dim, next_vid, access_after FROM kv").fetchone()
        if row is None:
            return
        self.seq, self.embedder, self.dim, self.next_vid, self.access_after = (
            int(row[0]), row[1] or None, int(row[2]) if row[2] else None, int(row[3]), row[4] or "",
        )

    def close(self) -> None:
        """Close the DuckDB connection (at exit); the replica is not used afterwards."""
        with self.lock:
            self.con.close()
            self.index = None
            self.lexical = None
            self.memo.clear()

    # -- memory ----------------------------------------------------------------------------
    def measure(self) -> int:
        """Estimate the bytes this replica holds (DuckDB's buffers, the vector and BM25 indexes),
        kept in ``footprint`` for the registry's memory bound. Caller holds ``lock``."""
        used = self.con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()").fetchone()
        total = int(used[0]) if used else 0
        if self.index is not None:
            total += self.index.size * self.index.dim * 4 + self.index.size * 16
        if self.lexical is not None:
            total += self.lexical.size * 400  # postings and document lengths, measured ~300-500 B/memory
        self.footprint = total
        return total

    def unload(self) -> None:
        """Free the in-memory state (the registry evicted this replica); a later sync reloads it.
        Caller holds ``lock``."""
        self.con.close()
        self._reset(schema=True)
        self.footprint = 0

    # -- sync ------------------------------------------------------------------------------
    def sync(self, *, writing: bool = False) -> int:
        """Bring the replica up to the newest committed entry; return how many entries were applied.

        ``writing``: the sync before a commit, where knowing the head in one request matters
        more than a request's price (see the module docstring)."""
        with self.lock:
            cold = not self.loaded
            if cold:
                self._load_from_checkpoint(read_pointer(self.store, self.keys))
                self.loaded = True
            else:
                self.cache_hits += 1
            applied = self._apply_tail(listing=(cold or writing) and self.lists_forward, eager=cold)
            if cold or applied:
                self.measure()
            return applied

    @property
    def lists_forward(self) -> bool:
        """Whether this store lists strictly after a key in one request, whatever precedes it
        (S3; a directory store reads the whole folder: it probes instead)."""
        return bool(getattr(self.store, "cheap_list_after", False))

    def _apply_tail(self, *, listing: bool = False, eager: bool = False) -> int:
        """Apply what is new: probes (``log/<seq+1>``... until one is missing) or one LIST after
        ``log/<seq>``; no scan of the history either way.

        A missing number is the head, or a gap GC made below a newer checkpoint (GC removes only
        entries at or below the previous checkpoint's sequence). The pointer tells which: at or
        below our sequence, this is the head (and a writer may take ``seq+1``); above it, reload
        from it. A listing that reaches its end is the head without that read."""
        applied = 0
        for _ in range(4):  # at most a few checkpoint reloads per sync
            if listing:
                got, at_head = self._list_forward(eager)
                applied += got
                if at_head:
                    return applied
            else:
                applied += self._probe_forward(eager)
            pointer = read_pointer(self.store, self.keys)
            if pointer is None or pointer.seq <= self.seq:
                return applied
            if self._exists(self.seq + 1):
                continue  # written (and checkpointed) between our probe and the pointer read
            log.info("log gap after seq %s in %s; reloading from checkpoint %s", self.seq, self.keys.root, pointer.seq)
            self._load_from_checkpoint(pointer)
        return applied

    def _probe_forward(self, eager: bool = False) -> int:
        """Apply ``log/<seq+1>``... up to the first missing number.

        The GETs in flight grow with what has been read (a quarter of it, up to ``_READ_AHEAD``),
        so the GETs past the head that miss stay under a quarter of the entries read: a replica
        a few entries behind (a writer that lost a race) reads one at a time. ``eager``: a cold
        tail, where the read-ahead starts full (a directory store's misses are cheap)."""
        applied = 0
        batch: list[LogEntry] = []
        while True:
            read = applied + len(batch)
            window = _READ_AHEAD if eager else min(_READ_AHEAD, max(1, read // 4))
            start = self.seq + len(batch) + 1
            seqs = list(range(start, start + window))
            bodies = list(_READERS.map(self._get_entry, seqs)) if window > 1 else [self._get_entry(start)]
            missing = False
            for seq, body in zip(seqs, bodies, strict=True):
                if body is None:
                    missing = True
                    break
                batch.append(LogEntry.decode(body, seq))
                self.tail_bytes += len(body)
            if len(batch) >= 256 or (missing and batch):
                self.apply(batch)
                applied += len(batch)
                batch = []
            if missing:
                return applied

    def _list_forward(self, eager: bool = False) -> tuple[int, bool]:
        """Apply the entries one LIST after ``log/<seq>`` names: (applied, at the head). Not at
        the head: the listing starts past ``seq+1`` or an entry went between the LIST and its GET
        (GC: the caller reads the pointer).

        A cold tail (``eager``) or a long one is read with its GETs in parallel. A writer a few
        entries behind (it lost a race) reads them one by one: parallel reads brought the losers
        of a race back to the next PUT together, and with 8 writers on moto's server that meant
        ~1.4 lost PUTs per commit instead of ~0.7 and 20% fewer commits/s (bench/README.md)."""
        applied = 0
        while True:
            listed = [info.key for info in self.store.list(self.keys.log_prefix, start_after=self.keys.log(self.seq), limit=_LIST_PAGE)]
            found = [s for s in map(self.keys.seq_of_log, listed) if s is not None]
            run = found[: next((i for i, s in enumerate(found) if s != self.seq + 1 + i), len(found))]  # seq+1, seq+2, ...
            in_order = len(run) <= (1 if eager else _IN_ORDER_UP_TO)
            bodies = [self._get_entry(s) for s in run] if in_order else list(_READERS.map(self._get_entry, run))
            batch: list[LogEntry] = []
            for seq, body in zip(run, bodies, strict=True):
                if body is None:
                    break
                batch.append(LogEntry.decode(body, seq))
                self.tail_bytes += len(body)
            if batch:
                self.apply(batch)
                applied += len(batch)
            if len(batch) < len(found):
                return applied, False
            if len(listed) < _LIST_PAGE:  # the listing's end (a full page may have more)
                return applied, True
            if not batch:
                return applied, False  # a page of keys that are not log entries: the pointer decides

    def _get_entry(self, seq: int) -> bytes | None:
        try:
            return self.store.get(self.keys.log(seq)).body
        except NotFound:
            return None

    def _exists(self, seq: int) -> bool:
        try:
            self.store.head(self.keys.log(seq))
        except NotFound:
            return False
        return True

    def apply(self, entries: LogEntry | list[LogEntry]) -> None:
        """Apply committed entries in order; on any failure the replica is dropped and reloads.

        A ``namespace.restore`` entry (written by ``membucket restore --force``) replaces the whole
        state: the replica loads the checkpoint that entry names, whose sequence is the entry's own.
        """
        entries = [entries] if isinstance(entries, LogEntry) else entries
        try:
            start = 0
            for i, entry in enumerate(entries):
                restore = next((op for op in entry.ops if op_name(op) == RESTORE_OP), None)
                if restore is not None:
                    apply_entries(self, entries[start:i])
                    op = parse_op(restore)
                    assert isinstance(op, NamespaceRestore)
                    self._load_restored(entry, op)
                    start = i + 1
            apply_entries(self, entries[start:])
        except Exception:
            log.exception("replay up to seq %s failed in %s; dropping the replica", entries[-1].seq, self.keys.root)
            self._reset()
            raise
        self.recent_txids.extend(e.txid for e in entries)
        self.changed(acl=any(op_name(op) in ACL_OPS for e in entries for op in e.ops))

    def changed(self, acl: bool = True) -> None:
        """Drop cached query results (``queries.forget`` decides which survive entries touching no app or rule)."""
        self.version += 1
        forget(self.memo, acl)

    def load_checkpoint(self, pointer: Pointer) -> None:
        """Load exactly this checkpoint, with no fallback to ``CHECKPOINT`` (restores, backup checks)."""
        check_inside(self.keys, pointer.dir)
        if checkpoint_format(self.store, pointer) >= 2:
            self._load_manifest(read_manifest(self.store, pointer.dir))
            return
        _meta, db_path, index_path = fetch_checkpoint(self.store, self.keys, pointer, self.cache_dir)
        try:
            self._load_files(db_path, index_path)
            self.checkpoint_bytes = _meta.db_size
        finally:
            release(db_path, index_path)

    def _load_manifest(self, manifest: Manifest) -> None:
        """Fetch a format-2/3 checkpoint's segments (concurrently, through the object cache) and load
        them; the FAISS and BM25 indexes are built from the same files on their own connections
        while DuckDB fills the tables (a cold start is mostly these three)."""
        shas = segment_files(manifest)
        files = fetch_segments(self.store, self.keys, shas, self.cache_dir, cached_object)
        try:
            self._reset()
            self.loaded = True
            by_sha = dict(zip(shas, files, strict=True))
            kv = manifest.kv
            dim = int(kv["dim"]) if kv.get("dim") else None
            vectors_built = _SIDE.submit(_on_own_connection, _vector_index, manifest, by_sha)
            lexical_built = _SIDE.submit(_on_own_connection, lexical_index, manifest, by_sha)
            try:
                load_tables(self.con, manifest, by_sha)
            finally:
                building: list[Future[Any]] = [vectors_built, lexical_built]
                wait(building)  # the files stay pinned until every reader is done
            index, lexical = vectors_built.result(), lexical_built.result()
        finally:
            release(*files)
        self.seq, self.embedder, self.dim = int(kv["seq"]), kv.get("embedder") or None, dim
        self.next_vid, self.access_after = int(kv.get("next_vid", 1)), str(kv.get("access_after") or "")
        self.save_kv()
        self.checkpoint_seq, self.checkpoint_bytes, self.tail_bytes = self.seq, manifest.data_bytes, 0
        self.index, self.lexical = index, lexical
        self.changed()

    def _load_restored(self, entry: LogEntry, op: NamespaceRestore) -> None:
        """Load the checkpoint a restore entry names; it must be the state at that very entry,
        and this namespace's own (a restored log is data: it must not pull in another user's)."""
        ckpt_dir = str(op.checkpoint)
        if not ckpt_dir.startswith(self.keys.checkpoints_prefix) or ".." in ckpt_dir.split("/"):
            raise CorruptCheckpoint(f"restore entry {entry.seq} names {ckpt_dir[:120]!r}, outside {self.keys.checkpoints_prefix}")
        self.load_checkpoint(Pointer(seq=entry.seq, dir=ckpt_dir))
        if self.seq != entry.seq:
            raise CorruptCheckpoint(f"restore entry {entry.seq} names a checkpoint at seq {self.seq}")

    def _load_from_checkpoint(self, pointer: Pointer | None) -> None:
        """Load ``pointer``'s checkpoint (re-reading the pointer when what it names is gone); on
        any failure the replica is left unloaded, so the next sync starts over."""
        try:
            self._load_pointer(pointer)
        except BaseException:
            self._reset()
            raise

    def _load_pointer(self, pointer: Pointer | None) -> None:
        for _attempt in range(5):
            if pointer is None:
                self._reset()
                self.loaded = True
                return
            try:
                self.load_checkpoint(pointer)
                return
            except (NotFound, CorruptCheckpoint) as exc:
                # the pointer moved and GC removed what we were reading, or a bad download: re-read
                log.warning("checkpoint %s unreadable (%s); re-reading the pointer", pointer.dir, exc)
                pointer = read_pointer(self.store, self.keys)
        raise RuntimeError(f"could not load a checkpoint for {self.keys.root}")

    def _load_files(self, db_path: Path, index_path: Path) -> None:
        self._reset(schema=False)
        self.loaded = True
        self.con.execute(f"ATTACH '{db_path}' AS ckpt (READ_ONLY)")
        try:
            self.con.execute("COPY FROM DATABASE ckpt TO memory")
        finally:
            self.con.execute("DETACH ckpt")
        create_schema(self.con)  # tables a newer schema added since the checkpoint was written
        self._load_kv()
        self.checkpoint_seq, self.tail_bytes = self.seq, 0
        if self.dim:
            self.index = VectorIndex.read(index_path, self.dim)
            self._check_index()
        self.changed()

    def _check_index(self) -> None:
        """The index is derived: if it disagrees with DuckDB's active rows, rebuild it from DuckDB."""
        want = self.con.execute("SELECT vid FROM memories WHERE state = 'active' ORDER BY vid").fetchnumpy()["vid"]
        assert self.index is not None, "checked right after the index is read"
        have = np.sort(self.index.ids())
        if len(want) != len(have) or not np.array_equal(np.asarray(want, dtype=np.int64), have):
            log.warning("index of %s disagrees with DuckDB (%d vs %d); rebuilding", self.keys.root, len(have), len(want))
            self.rebuild_index()

    def lexical_index(self) -> LexicalIndex:
        """The BM25 index of the active memories: built from DuckDB on first use, then incremental."""
        if self.lexical is None:
            res = self.con.execute("SELECT vid, text FROM memories WHERE state = 'active' ORDER BY vid").fetchnumpy()
            lex = LexicalIndex()
            lex.add(res["vid"], res["text"])
            self.lexical = lex
        return self.lexical

    def rebuild_index(self) -> None:
        assert self.dim is not None, "an index is built only once the embedder (and its dimension) is set"
        vids, vectors = self.vectors("state = 'active'")
        self.index = VectorIndex(self.dim)
        self.index.add(vids, vectors)

    def vectors(self, where: str = "true", params: Sequence[object] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(vids, vectors) of the memories matching ``where``, straight from the record."""
        res = self.con.execute(f"SELECT vid, vector FROM memories WHERE {where} ORDER BY vid", params or []).fetchnumpy()
        return vector_rows(res, self.dim)

    def snapshot(self, db_file: Path) -> bytes:
        """Write the replica's DuckDB to ``db_file`` and return the serialized index."""
        self.save_kv()
        if db_file.exists():
            db_file.unlink()
        self.con.execute(f"ATTACH '{db_file}' AS snap")
        try:
            self.con.execute("COPY FROM DATABASE memory TO snap")
        finally:
            self.con.execute("DETACH snap")
        return self.index.serialize() if self.index is not None else VectorIndex(self.dim or 1).serialize()
