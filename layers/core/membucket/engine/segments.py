"""Format-3 checkpoints: content-addressed Parquet segments named by a small manifest.

    ns/<user>/segments/<sha256>.parquet                immutable, named by the sha256 of its bytes
    ns/<user>/checkpoints/<seq>-<tag>/manifest.json    {"format": 3, "seq", "kv", "tables", ...}

A segment over ``PART_BYTES`` is stored as parts (format 3; format 2 had none): row ranges of
it, each its own content-addressed object, named in order by the segment's ``parts``. A cold
load then fetches a big table as several whole objects at once, which every S3 implementation
serves in parallel (ranged GETs of one object do not help everywhere: moto re-reads the whole
object for each range, 2.8 s for 176 MB against 0.2 s as 8 parts). Keys are unique within a
segment, so its parts read as consecutive files of the table.

A table is an ordered list of segments (oldest first). Every segment row carries ``_k`` (a 64-bit
hash of the row), ``_n`` (its occurrence among identical rows) and ``_del`` (a tombstone): the
table is, per key (``_k``, ``_n``), the newest segment's record, dropped when it is a tombstone.
Keys are row contents, so an update is a tombstone of the old row plus the new row, and no
table needs a primary key.

A checkpoint diffs the replica against the live keys of the checkpoint it builds on (the
current pointer's, read back from its segments, which this machine caches by sha256): only
rows inserted or changed since then are written, as one new delta segment per table, plus
tombstones. Trailing segments of one size tier (``TIER`` x apart) merge once ``TIER`` of them
pile up, so a table keeps about log_TIER(size/delta) x (TIER-1) segments (at most ``MAX_SEGMENTS``)
and a row is rewritten about log_TIER times. Small tables (``WHOLE``) are one segment, rewritten
when they change. The key reuse goes through the manifest, never through byte equality of
Parquet output. The FAISS index is not stored: a load rebuilds it from the vectors. Memory
rows carry ``_terms`` (their BM25 tokens, computed once when the row is written), so a load
builds the lexical index by grouping them in DuckDB instead of re-tokenizing every text.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from ..store import IF_ABSENT, ObjectStore, PreconditionFailed
from .keys import NamespaceKeys
from .lexical import TOKENIZER, LexicalIndex, tokenize
from .objcache import pin, release, sha256_of
from .tables import Connection, connect, vector_rows

__all__ = [
    "FORMAT", "MANIFEST", "Segment", "Manifest", "INCREMENTAL", "WHOLE", "TABLES",
    "build_manifest", "merge_tiers", "Built", "load_tables", "fetch_segments", "segment_files", "table_files", "lexical_index", "active_vectors",
    "PART_BYTES",
]

FORMAT = 3  # 2: no segment parts
MANIFEST = "manifest.json"
INCREMENTAL = ("memories", "history", "access_log")  # grow with writes: deltas
WHOLE = ("apps", "rules", "category_defs", "pending_categories")  # small: one segment
TABLES = INCREMENTAL + WHOLE
TIER = 4
UNIT_BYTES = 1 << 20  # segments under this many bytes are one tier
MAX_SEGMENTS = 12
PART_BYTES = 16 << 20  # a segment larger than this is stored as parts of about this size
_ORDER = {"memories": "vid", "history": "seq, memory_id", "access_log": "accessed_at, key"}
_FETCHERS = ThreadPoolExecutor(16, thread_name_prefix="segment-fetch")


@dataclass(frozen=True)
class Segment:
    sha256: str
    rows: int
    bytes: int
    tombstones: int = 0
    parts: tuple[str, ...] = ()  # the sha256 of each part object, in row order; (): one object, ``sha256``

    def objects(self) -> tuple[str, ...]:
        """The sha256 of each object holding this segment's rows, in order."""
        return self.parts or (self.sha256,)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"sha256": self.sha256, "rows": self.rows, "bytes": self.bytes, "tombstones": self.tombstones}
        if self.parts:
            doc["parts"] = list(self.parts)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Segment:
        parts = doc.get("parts", [])
        if not isinstance(parts, list) or not all(isinstance(p, str) and len(p) == 64 for p in parts):
            raise ValueError("a segment's parts must be a list of sha256 digests")
        return cls(sha256=str(doc["sha256"]), rows=int(doc["rows"]), bytes=int(doc["bytes"]),
                   tombstones=int(doc.get("tombstones", 0)), parts=tuple(parts))


@dataclass
class Manifest:
    seq: int
    embedder: str | None
    dim: int | None
    kv: dict[str, Any]
    tables: dict[str, list[Segment]]
    memories: int = 0
    active: int = 0
    created_at: float = field(default_factory=time.time)
    format: int = FORMAT
    lexical: int | None = TOKENIZER  # the tokenizer version of the memories' ``_terms``
    disjoint: list[str] | None = None  # tables no key of which is in two files (None: not recorded, format 2)

    def is_disjoint(self, table: str) -> bool | None:
        """Whether ``table``'s files can be read without the newest-wins join (None: look)."""
        return None if self.disjoint is None else table in self.disjoint

    @property
    def data_bytes(self) -> int:
        """Bytes of data this checkpoint names (the compaction trigger's yardstick)."""
        return sum(s.bytes for segs in self.tables.values() for s in segs)

    def segments(self) -> list[Segment]:
        return [s for segs in self.tables.values() for s in segs]

    def objects(self) -> list[str]:
        """The sha256 of every object (segment or part) this checkpoint names, once each."""
        return list(dict.fromkeys(o for s in self.segments() for o in s.objects()))

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {
            "format": self.format, "seq": self.seq, "embedder": self.embedder, "dim": self.dim, "kv": self.kv,
            "memories": self.memories, "active": self.active, "created_at": self.created_at, "bytes": self.data_bytes,
            "tables": {t: [s.to_dict() for s in segs] for t, segs in self.tables.items()}, "lexical": self.lexical,
        }
        if self.disjoint is not None:
            doc["disjoint"] = sorted(self.disjoint)
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Manifest:
        doc = json.loads(body)
        return cls(
            seq=int(doc["seq"]), embedder=doc.get("embedder"), dim=doc.get("dim"), kv=dict(doc["kv"]),
            tables={t: [Segment.from_dict(s) for s in segs] for t, segs in doc["tables"].items()},
            memories=int(doc.get("memories", 0)), active=int(doc.get("active", 0)),
            created_at=float(doc.get("created_at", 0.0)), format=int(doc["format"]), lexical=doc.get("lexical"),
            disjoint=[str(t) for t in doc["disjoint"]] if isinstance(doc.get("disjoint"), list) else None,
        )


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _columns(con: Connection, table: str) -> list[str]:
    """The table's columns in order (one cheap LIMIT 0 query; duckdb_columns() costs ~50 ms)."""
    res = con.raw.execute(f'SELECT * FROM "{table}" LIMIT 0')
    cols = [str(d[0]) for d in res.description or []]
    res.fetchall()
    return cols


def _quoted(cols: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in cols)


def _is_disjoint(con: Connection, files: list[Path]) -> bool:
    """True when no key is in two of ``files``."""
    return len(files) <= 1 or not con.execute(
        f"SELECT 1 FROM read_parquet({_sql_list(files)}, union_by_name = true) GROUP BY _k, _n HAVING count(*) > 1 LIMIT 1"
    ).fetchall()


def _resolved(con: Connection, files: list[Path], cols: str, keep_tombstones: bool = False, disjoint: bool | None = None) -> str:
    """SQL of the records of ``files`` (oldest first) that win: per key, the newest file's.

    When no key is in two files (a base plus deltas that only added, or one segment's parts),
    every record wins: the files are read as they are, without the join (~0.2 s at 100k rows).
    ``disjoint`` says so when the manifest recorded it (None: look)."""
    where = "" if keep_tombstones else "WHERE NOT _del"
    names = _sql_list(files)
    if disjoint if disjoint is not None else _is_disjoint(con, files):
        return f"SELECT {cols} FROM read_parquet({names}, union_by_name = true) {where}"
    newest = (
        f"SELECT _k, _n, max(list_position({names}, filename)) AS _pos "
        f"FROM read_parquet({names}, filename = true, union_by_name = true) GROUP BY _k, _n"
    )
    where = "" if keep_tombstones else "AND NOT r._del"
    return (
        f"SELECT {', '.join('r.' + c for c in cols.split(', '))} FROM read_parquet({names}, filename = true, union_by_name = true) r "
        f"JOIN ({newest}) w ON r._k = w._k AND r._n = w._n AND list_position({names}, r.filename) = w._pos {where}"
    )


def _current_keys(table: str) -> str:
    return f'SELECT hash(t) AS _k, row_number() OVER (PARTITION BY hash(t)) AS _n FROM "{table}" t'


@dataclass
class Written:
    """A new segment and its object files (sha256 -> path), one, or its parts in row order."""

    segment: Segment
    files: list[tuple[str, Path]]


def _write(con: Connection, query: str, tmp_dir: Path, order: str | None = None) -> Written | None:
    """COPY ``query`` (with ``_k``, ``_n``, ``_del``) to Parquet named by its sha256 (as parts
    when over ``PART_BYTES``); None if empty."""
    path = tmp_dir / f".seg-{uuid.uuid4().hex}.parquet"
    ordered = f"SELECT * FROM ({query}) ORDER BY {order}" if order else query
    con.execute(f"COPY ({ordered}) TO '{path}' (FORMAT parquet, COMPRESSION uncompressed)")
    counts = con.execute(f"SELECT count(*), count(*) FILTER (WHERE _del) FROM read_parquet('{path}')").fetchone()
    assert counts is not None, "an aggregate returns one row"
    rows, tombstones = int(counts[0]), int(counts[1])
    if rows == 0:
        path.unlink()
        return None
    size, sha = path.stat().st_size, sha256_of(path)
    if size <= PART_BYTES or rows < 2:
        return Written(Segment(sha256=sha, rows=rows, bytes=size, tombstones=tombstones), [(sha, path)])
    try:
        parts = _split(con, path, rows, math.ceil(size / PART_BYTES), tmp_dir)
    finally:
        path.unlink()
    seg = Segment(sha256=sha, rows=rows, bytes=sum(p.stat().st_size for _, p in parts), tombstones=tombstones,
                  parts=tuple(h for h, _ in parts))
    return Written(seg, parts)


def _split(con: Connection, path: Path, rows: int, n: int, tmp_dir: Path) -> list[tuple[str, Path]]:
    """Consecutive row ranges of ``path`` as ``n`` files (one pass), each named by its sha256.
    Keys are unique within a segment, so correctness needs no order among or within parts."""
    per = math.ceil(rows / n)
    out_dir = tmp_dir / f".parts-{uuid.uuid4().hex}"
    try:
        con.execute(
            f"COPY (SELECT * EXCLUDE (file_row_number), file_row_number // {per} AS _part "
            f"FROM read_parquet('{path}', file_row_number = true)) "
            f"TO '{out_dir}' (FORMAT parquet, COMPRESSION uncompressed, PARTITION_BY (_part))"
        )
        parts = []
        for i in range(math.ceil(rows / per)):
            for written in sorted((out_dir / f"_part={i}").glob("*.parquet")):  # one, unless DuckDB split it further
                target = tmp_dir / f".part-{uuid.uuid4().hex}.parquet"
                os.replace(written, target)
                parts.append((sha256_of(target), target))
        return parts
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _tier(seg: Segment) -> int:
    return int(math.log(max(seg.bytes, UNIT_BYTES) / UNIT_BYTES, TIER))


def _merge_plan(segs: list[Segment]) -> int:
    """How many trailing segments to merge into one (0: none)."""
    if len(segs) < 2:
        return 0
    tier = _tier(segs[-1])
    run = 0
    for seg in reversed(segs):
        if _tier(seg) > tier:
            break
        run += 1
    if run >= TIER:
        return run
    return len(segs) - MAX_SEGMENTS + 1 if len(segs) > MAX_SEGMENTS else 0


@dataclass
class Built:
    """A manifest, the new segment files it names (local paths, to upload before the manifest),
    and what ``merge_tiers`` needs: each segment's local files and each table's columns."""

    manifest: Manifest
    objects: Path  # the object cache directory new files go to
    new: dict[str, Path] = field(default_factory=dict)  # sha256 -> file (in the object cache)
    local: dict[str, list[Path]] = field(default_factory=dict)  # segment sha256 -> its object files, in order
    columns: dict[str, list[str]] = field(default_factory=dict)  # table -> its columns, for merges
    pinned: list[Path] = field(default_factory=list)  # new files, pinned until the upload is done

    def keep(self, out: Written) -> None:
        """Move a new segment's files into the object cache (content-addressed, pinned) and note them."""
        targets = []
        for sha, path in out.files:
            target = self.objects / sha
            if target.exists():
                path.unlink()
            else:
                os.replace(path, target)
            pin(target)
            self.pinned.append(target)
            self.new[sha] = target
            targets.append(target)
        self.local[out.segment.sha256] = targets


def build_manifest(
    con: Connection, kv: dict[str, Any], base: Manifest | None, base_files: Callable[[list[Segment]], list[Path]], cache_dir: Path,
) -> Built:
    """Diff the replica against ``base`` and write what changed as one delta segment per table
    (see the module doc); ``merge_tiers`` then merges the tiers, without the replica.

    ``base_files`` returns local files for the objects of segments of ``base``, in order
    (fetched through the object cache); the new files land in the cache too, so the next checkpoint reads them locally."""
    objects = cache_dir / "objects"
    objects.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[Segment]] = {}
    built = Built(manifest=Manifest(seq=int(kv["seq"]), embedder=kv.get("embedder"), dim=kv.get("dim"), kv=kv, tables=tables,
                                    disjoint=list(WHOLE)), objects=objects)  # one segment each
    _register_terms(con)
    for table in TABLES:
        cols = _columns(con, table)
        built.columns[table] = cols
        terms = table == "memories"  # memory rows carry their BM25 tokens
        old = list(base.tables.get(table, [])) if base is not None else []
        old_files = base_files(old) if old else []
        files = iter(old_files)
        built.local.update({s.sha256: [next(files) for _ in s.objects()] for s in old})
        base_keys = _resolved(con, old_files, "_k, _n", disjoint=base.is_disjoint(table) if base else None) if old_files \
            else "SELECT NULL::UBIGINT AS _k, NULL::BIGINT AS _n WHERE false"
        body = f'SELECT {_quoted(cols)}, hash(t) AS _k, row_number() OVER (PARTITION BY hash(t)) AS _n, false AS _del FROM "{table}" t'
        nulls = ", ".join(f'NULL AS "{c}"' for c in cols)
        extra = ', mb_terms(c."text") AS _terms' if terms else ""
        added = f"SELECT c.*{extra} FROM ({body}) c WHERE NOT EXISTS (SELECT 1 FROM ({base_keys}) b WHERE b._k = c._k AND b._n = c._n)"
        gone = (f"SELECT {nulls}, b._k, b._n, true AS _del{', NULL::VARCHAR[] AS _terms' if terms else ''} FROM ({base_keys}) b "
                f"WHERE NOT EXISTS (SELECT 1 FROM ({_current_keys(table)}) c WHERE c._k = b._k AND c._n = b._n)")
        if table in WHOLE:
            changed = con.execute(f"SELECT (SELECT count(*) FROM ({added})) + (SELECT count(*) FROM ({gone}))").fetchone()
            if old and changed is not None and int(changed[0]) == 0:
                tables[table] = old
                continue
            out = _write(con, body, objects)
            tables[table] = [] if out is None else [out.segment]
            if out is not None:
                built.keep(out)
            continue
        out = _write(con, f"{added} UNION ALL {gone}", objects, order=_ORDER.get(table))
        tables[table] = old + ([out.segment] if out is not None else [])
        if out is not None:
            built.keep(out)
    return built


def merge_tiers(built: Built) -> None:
    """Merge each growing table's trailing segments of one tier (``_merge_plan``) and record which
    tables hold each key once. Reads only immutable files, on its own connection: a checkpoint
    runs this outside the replica's lock (a top-tier merge at 100k memories takes seconds)."""
    con = connect(threads=1)
    try:
        for table in INCREMENTAL:
            segs = built.manifest.tables.get(table, [])
            carried = f"{_quoted(built.columns[table])}, _k, _n, _del" + (", _terms" if table == "memories" else "")
            while (n := _merge_plan(segs)) > 0:
                run = segs[-n:]
                merged = _write(con, _resolved(con, [f for s in run for f in built.local[s.sha256]], carried, keep_tombstones=len(segs) > n),
                                built.objects, order=_ORDER.get(table))
                segs = segs[:-n] + ([merged.segment] if merged is not None else [])
                if merged is not None:
                    built.keep(merged)
            built.manifest.tables[table] = segs
            if _is_disjoint(con, [f for s in segs for f in built.local[s.sha256]]):
                assert built.manifest.disjoint is not None, "set by build_manifest"
                built.manifest.disjoint.append(table)
    finally:
        con.close()


def _terms_of(text: str) -> list[str]:
    return tokenize(text)


def _register_terms(con: Connection) -> None:
    """``mb_terms(text)``: the BM25 tokens of a text (engine/lexical.py), as a DuckDB function."""
    try:
        con.raw.create_function("mb_terms", _terms_of, [duckdb.sqltypes.VARCHAR], duckdb.list_type(duckdb.sqltypes.VARCHAR),
                                side_effects=False)
    except duckdb.NotImplementedException:
        pass  # registered on this connection already


def lexical_index(con: Connection, manifest: Manifest, files: dict[str, Path]) -> LexicalIndex | None:
    """The BM25 index of the active memories from the terms the segments carry (None: not
    usable, e.g. another tokenizer version; the replica then builds it from the texts)."""
    segs = manifest.tables.get("memories", [])
    if manifest.lexical != TOKENIZER or not segs:
        return None
    live = _resolved(con, table_files(segs, files), '"vid", "state", _terms', disjoint=manifest.is_disjoint("memories"))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _lex_docs AS SELECT vid, _terms AS t FROM ({live}) WHERE state = 'active'")
    try:
        docs = con.execute("SELECT vid, len(t) AS n, t IS NULL AS missing FROM _lex_docs ORDER BY vid").fetchnumpy()
        if docs["missing"].any():
            return None
        con.execute("CREATE OR REPLACE TEMP TABLE _lex_post AS SELECT term, vid, count(*) AS tf "
                    "FROM (SELECT vid, unnest(t) AS term FROM _lex_docs) GROUP BY term, vid")
        terms = con.execute("SELECT term, count(*) AS n FROM _lex_post GROUP BY term ORDER BY term").fetchnumpy()
        post = con.execute("SELECT vid, tf FROM _lex_post ORDER BY term, vid").fetchnumpy()
    finally:
        con.execute("DROP TABLE IF EXISTS _lex_docs")
        con.execute("DROP TABLE IF EXISTS _lex_post")
    bounds = np.concatenate([[0], np.cumsum(np.asarray(terms["n"], dtype=np.int64))])
    return LexicalIndex.from_postings(
        terms["term"].tolist(), bounds, np.asarray(post["vid"]), np.asarray(post["tf"]),
        np.asarray(docs["vid"], dtype=np.int64), np.asarray(docs["n"], dtype=np.float32),
    )


def upload_segments(store: ObjectStore, keys: NamespaceKeys, new: dict[str, Path]) -> int:
    """PUT each new segment if absent (412: the same bytes are there already). Returns bytes sent."""
    def put(item: tuple[str, Path]) -> int:
        sha, path = item
        try:
            store.put(keys.segment(sha), path.read_bytes(), IF_ABSENT)
            return path.stat().st_size
        except PreconditionFailed:
            return 0
    return sum(_FETCHERS.map(put, sorted(new.items())))


def segment_files(manifest: Manifest) -> list[str]:
    """The sha256 of every object the manifest names, once."""
    return manifest.objects()


def table_files(segs: list[Segment], files: dict[str, Path]) -> list[Path]:
    """The local files of a table's segments, oldest first (a segment's parts in row order)."""
    return [files[o] for s in segs for o in s.objects()]


def fetch_segments(
    store: ObjectStore, keys: NamespaceKeys, shas: list[str], cache_dir: Path,
    fetch: Callable[[ObjectStore, str, str, Path], Path],
) -> list[Path]:
    """Local, verified, pinned files of the objects ``shas`` (in order), fetched concurrently; the caller releases them."""
    futures = [_FETCHERS.submit(fetch, store, keys.segment(sha), sha, cache_dir) for sha in shas]
    done = [f.result() for f in futures if f.exception() is None]
    if len(done) < len(futures):
        release(*done)
        for f in futures:
            f.result()  # raises the first failure
    return done


def load_tables(con: Connection, manifest: Manifest, files: dict[str, Path]) -> None:
    """Fill the (empty, freshly created) tables from the manifest's segments."""
    for table, segs in manifest.tables.items():
        if table not in TABLES or not segs:
            continue
        cols = _quoted(_columns(con, table))
        # no ORDER BY: nothing reads the tables' physical order (replay's updates move rows anyway)
        query = _resolved(con, table_files(segs, files), cols, disjoint=manifest.is_disjoint(table))
        # indexes built once after the bulk insert (~20% faster than maintained row by row)
        indexes = con.execute("SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = ?", [table]).fetchall()
        for name, _sql in indexes:
            con.execute(f'DROP INDEX "{name}"')
        con.execute(f'INSERT INTO "{table}" ({cols}) {query}')
        for _name, sql in indexes:
            con.execute(str(sql))


def active_vectors(con: Connection, manifest: Manifest, files: dict[str, Path]) -> tuple[np.ndarray, np.ndarray]:
    """(vids, float32 vectors) of the active memories, read from the segments: what the FAISS
    index holds, built on another connection while ``load_tables`` fills the replica's."""
    segs = manifest.tables.get("memories", [])
    if not segs:
        return np.empty(0, dtype=np.int64), np.empty((0, int(manifest.dim or 0)), dtype=np.float32)
    live = _resolved(con, table_files(segs, files), '"vid", "state", "vector"', disjoint=manifest.is_disjoint("memories"))
    return vector_rows(con.execute(f"SELECT vid, vector FROM ({live}) WHERE state = 'active'").fetchnumpy(), manifest.dim)
