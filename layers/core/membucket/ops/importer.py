"""Import a bundle (membucket's export or OpenMemory's) into the caller's namespace.

Guarantees:

- **Validate first.** The whole bundle is read (decrypted and authenticated, checksums, schema,
  every row) before anything is written; a bad bundle leaves the bucket untouched.
- **One commit.** Rows go to content-addressed side objects (``engine/blobs.py``) and then ONE
  log entry names them: ``memory.purge`` (rows being replaced, or absent from the bundle in
  replace mode), ``app.import``/``app.purge``, ``rule.import``/``rule.delete``, then
  ``memory.import``. Replicas apply the entry whole or not at all, so no half import is ever
  visible. Why side objects rather than several entries: a log entry is JSON that every replica
  parses whole, and 100k memories with base64 vectors is ~200 MB; split over several entries the
  first ones would be visible before the last. Parts of ``PART_ROWS`` memories (raw float32
  vectors, ~8 MB at 384-d) keep every object and every replay step small; uncommitted parts are
  inert (nothing lists them) and a retry re-uses them (same content, same key).
- **Keeps** ids, text, states, apps (and their paused flag), categories, metadata, timestamps,
  history and vectors (unless ``reembed``). The access log is exported but not imported.
- **merge** adds what is missing and replaces a memory (row and history) only when the bundle's
  ``updated_at`` is newer; an app's paused flag likewise; rules are added by id unless an equal
  rule exists. **replace** makes the namespace equal to the bundle (memories, apps, rules): a
  bundle exported with filters removes everything outside them.
  Idempotent: a second identical import finds nothing to do and commits nothing.
- A bundle from another embedder (id or dimension) is refused (409 ``embedder_mismatch``)
  unless ``reembed``, which embeds every text with the current embedder. OpenMemory bundles
  carry no vectors and are always embedded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..engine import queries
from ..engine.blobs import encode_part
from ..engine.log import format_ts
from ..engine.namespace import Plan
from ..engine.operations import AppImport, AppPurge, MemoryImport, MemoryPurge, Operation, RuleDelete, RuleImport
from ..errors import BundleChecksum, BundleEncrypted, BundleInvalid, EmbedderMismatch, Forbidden, InvalidInput
from ..store import IF_ABSENT, PreconditionFailed
from .bundle import Bundle, open_bundle
from .context import Context, check_embedder, init_ops
from .export import Progress
from .models import ImportResult

__all__ = ["import_bundle", "import_opened", "ImportResult", "MODES", "PART_ROWS"]

MODES = ("merge", "replace")
PART_ROWS = 5000
HISTORY_PART_ROWS = 20000
PART_CHARS = 16 << 20  # text characters per part too: rows of maximal texts would make a rows-only part GBs
EMBED_BATCH = 256
_RETRY = object()


@dataclass
class _Decision:
    add: set[str]
    update: set[str]
    purge: set[str]  # memories hard-removed without replacement (replace mode)
    apps: list[dict]
    app_purge: list[str]
    rules: list[dict]
    rule_delete: list[str]

    @property
    def memory_ids(self) -> set[str]:
        return self.add | self.update

    def empty(self) -> bool:
        return not (self.add or self.update or self.purge or self.apps or self.app_purge or self.rules or self.rule_delete)


@contextlib.contextmanager
def _seekable(source, tmp_dir: Path) -> Iterator[BinaryIO]:
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            yield f
        return
    if getattr(source, "seekable", lambda: False)():
        yield source
        return
    with tempfile.TemporaryFile(dir=tmp_dir) as spool:
        shutil.copyfileobj(source, spool, 1 << 20)
        spool.seek(0)
        yield spool


@contextlib.contextmanager
def _plain(f: BinaryIO, passphrase: str | None, tmp_dir: Path) -> Iterator[BinaryIO]:
    """The zip inside: ``f`` itself, or its decryption (authenticated end to end) in a temp file."""
    start = f.tell()
    head = f.read(4)
    f.seek(start)
    if head != b"MBX1":  # encryption.MAGIC; cryptography is imported only for encrypted bundles
        yield f
        return
    if not passphrase:
        raise BundleEncrypted("this bundle is encrypted: give its passphrase (MEMBUCKET_PASSPHRASE, the prompt, or X-Membucket-Passphrase)")
    from .encryption import decrypt_stream

    with tempfile.TemporaryFile(dir=tmp_dir) as out:
        decrypt_stream(f, out, passphrase)
        out.seek(0)
        yield out


def import_bundle(
    ctx: Context,
    source: str | os.PathLike | BinaryIO,
    *,
    mode: str = "merge",
    reembed: bool = False,
    passphrase: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import ``source`` (a path or a binary file) into the caller's namespace. Owner only."""
    if ctx.app is not None:
        raise Forbidden("import is for the namespace owner, not an app")
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}")
    progress = progress or (lambda stage, done, total: None)
    tmp_dir = Path(ctx.settings.cache_dir) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _import(ctx, source, mode, reembed, passphrase, progress, tmp_dir)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a member's data is damaged (bad CRC, bad deflate stream)
        raise BundleChecksum(f"the bundle is damaged: {exc}") from None


def import_opened(ctx: Context, bundle: Bundle, *, mode: str = "merge", progress: Progress | None = None) -> ImportResult:
    """Import a bundle already built in memory (an OpenMemory database's rows). Owner only."""
    if ctx.app is not None:
        raise Forbidden("import is for the namespace owner, not an app")
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}")
    return _import_opened(ctx, bundle, mode, False, progress or (lambda stage, done, total: None))


def _import(ctx: Context, source, mode: str, reembed: bool, passphrase: str | None, progress: Progress, tmp_dir: Path) -> ImportResult:
    with _seekable(source, tmp_dir) as raw, _plain(raw, passphrase, tmp_dir) as f:
        return _import_opened(ctx, open_bundle(f, ctx.settings), mode, reembed, progress)


def _import_opened(ctx: Context, bundle: Bundle, mode: str, reembed: bool, progress: Progress) -> ImportResult:
    """Validate every row, then commit once: shared by bundles read from a file and built in memory."""
    index = bundle.validate(progress, summarize=lambda r: (r["updated_at"], _fingerprint(r)))
    embed = bundle.format == "openmemory" or reembed
    if not embed and bundle.count and (bundle.embedder != ctx.embedder.id or bundle.dim != ctx.embedder.dim):
        raise EmbedderMismatch(
            f"the bundle was embedded with {bundle.embedder} ({bundle.dim}-d); this server uses "
            f"{ctx.embedder.id} ({ctx.embedder.dim}-d). Import with --reembed (reembed=true) to embed it again.",
            bundle_embedder=bundle.embedder, embedder=ctx.embedder.id,
        )
    if not embed and bundle.without_vector:
        raise BundleInvalid(f"{bundle.without_vector} memories carry no vector; import with --reembed (reembed=true) to embed them")
    return _commit(ctx, bundle, index, mode, embed, progress)


def _commit(ctx: Context, bundle: Bundle, index: dict[str, tuple], mode: str, embed: bool, progress: Progress) -> ImportResult:
    for _ in range(5):
        with ctx.ns.read() as rep:
            check_embedder(ctx, rep)
            first = _decide(rep, bundle, index, mode)
            seq = rep.seq
        if first.empty():
            return ImportResult(mode=mode, skipped=len(index), seq=seq, format=bundle.format)
        parts, history_parts = _upload(ctx, bundle, first.memory_ids, embed, progress)

        def build(rep, first=first, parts=parts, history_parts=history_parts) -> Plan:
            check_embedder(ctx, rep)
            d = _decide(rep, bundle, index, mode)
            if not d.memory_ids <= first.memory_ids:
                return Plan([], _RETRY)  # the namespace moved under us: decide again
            ops: list[Operation] = list(init_ops(ctx, rep))
            gone = sorted(d.purge | d.update)
            if gone:
                ops.append(MemoryPurge(ids=gone))
            ops += [AppImport(**a) for a in d.apps]
            if d.app_purge:
                ops.append(AppPurge(names=d.app_purge))
            ops += [RuleDelete(id=rid) for rid in d.rule_delete]
            ops += [RuleImport(**r) for r in d.rules]
            if d.memory_ids:
                ids = None if d.memory_ids == first.memory_ids else sorted(d.memory_ids)
                ops.append(MemoryImport(parts=parts, history_parts=history_parts, ids=ids))
            return Plan(ops, d)

        progress("commit", 0, 1)
        d = ctx.ns.commit(build, actor="import")
        if d is _RETRY:
            continue
        progress("commit", 1, 1)
        with ctx.ns.read() as rep:
            seq = rep.seq
        return ImportResult(
            mode=mode, added=len(d.add), updated=len(d.update), skipped=len(index) - len(d.add) - len(d.update),
            purged=len(d.purge), seq=seq, format=bundle.format,
        )
    from ..errors import CommitContention

    raise CommitContention("the namespace kept changing during the import; retry later")


def _fingerprint(r: dict) -> bytes:
    """A digest of every field replace mode compares (not the vector: it follows the text)."""
    fields = [r["text"], r["state"], r["app"], list(r["categories"]), r["metadata"] or {}, r["created_at"], r["updated_at"],
              r["archived_at"], r["deleted_at"]]
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).digest()


def _decide(rep, bundle: Bundle, index: dict[str, tuple], mode: str) -> _Decision:
    """What this import changes in the namespace as it is now (pure: re-run on every attempt)."""
    existing: dict[str, tuple] = {}
    if mode == "merge":
        for mid, updated in queries.import_rows(rep, full=False):
            existing[mid] = (format_ts(updated), None)
    else:
        for r in queries.import_rows(rep, full=True):
            row = {"text": r[1], "state": r[2], "app": r[3], "categories": list(r[4] or []),
                   "metadata": json.loads(r[5]) if isinstance(r[5], str) else (r[5] or {}), "created_at": format_ts(r[6]),
                   "updated_at": format_ts(r[7]), "archived_at": None if r[8] is None else format_ts(r[8]),
                   "deleted_at": None if r[9] is None else format_ts(r[9])}
            existing[r[0]] = (row["updated_at"], _fingerprint(row))
    add, update = set(), set()
    for mid, (updated, fp) in index.items():
        have = existing.get(mid)
        if have is None:
            add.add(mid)
        elif (mode == "merge" and updated > have[0]) or (mode == "replace" and fp != have[1]):
            update.add(mid)
    purge = set(existing) - set(index) if mode == "replace" else set()

    apps_now = {r[0]: (bool(r[1]), format_ts(r[2]), format_ts(r[3])) for r in
                queries.app_rows(rep)}
    apps = []
    for a in bundle.apps:
        have = apps_now.get(a["name"])
        if have is None:
            apps.append(a)
        elif mode == "merge" and a["updated_at"] > have[2] and a["paused"] != have[0]:
            apps.append(a)
        elif mode == "replace" and (a["paused"], a["created_at"], a["updated_at"]) != have:
            apps.append(a)
    app_purge = sorted(set(apps_now) - {a["name"] for a in bundle.apps}) if mode == "replace" else []

    rules_now = {r[0]: (r[1], r[2], r[3], r[4]) for r in queries.rule_rows(rep)}
    same = set(rules_now.values())
    rules = [r for r in bundle.rules if r["id"] not in rules_now and (mode == "replace" or (r["app"], r["effect"], r["scope"], r["target"]) not in same)]
    rule_delete = sorted(set(rules_now) - {r["id"] for r in bundle.rules}) if mode == "replace" else []
    return _Decision(add, update, purge, apps, app_purge, rules, rule_delete)


def _upload(ctx: Context, bundle: Bundle, ids: set[str], embed: bool, progress: Progress) -> tuple[list[dict], list[dict]]:
    """Write the chosen rows (and their history) as content-addressed parts; return their refs."""
    store, keys = ctx.ns.store, ctx.ns.keys

    def put(rows: list[dict], vectors: np.ndarray) -> dict:
        body, digest = encode_part(rows, vectors)
        try:
            store.put(keys.blob(digest), body, IF_ABSENT)
        except PreconditionFailed:
            pass  # content-addressed: the object is already there, byte for byte
        return {"sha256": digest, "rows": len(rows)}

    parts: list[dict] = []
    batch: list[dict] = []
    done = chars = 0

    def flush() -> None:
        nonlocal batch, done, chars
        if embed:
            vecs = [ctx.embedder.embed([r["text"] for r in batch[i : i + EMBED_BATCH]]) for i in range(0, len(batch), EMBED_BATCH)]
            vectors = np.concatenate(vecs).astype(np.float32)
        else:
            vectors = np.stack([r["vector"] for r in batch])
        rows = [{k: v for k, v in r.items() if k != "vector"} for r in batch]
        parts.append(put(rows, vectors))
        done += len(batch)
        progress("upload", done, len(ids))
        batch, chars = [], 0

    for row in bundle.memories():
        if row["id"] in ids:
            batch.append(row)
            chars += len(row["text"])
            if len(batch) >= PART_ROWS or chars >= PART_CHARS:
                flush()
    if batch:
        flush()
    history_parts: list[dict] = []
    hist: list[dict] = []
    chars = 0
    for h in bundle.history():
        if h["memory_id"] in ids:
            hist.append(h)
            chars += len(h["old_text"] or "") + len(h["new_text"] or "")
            if len(hist) >= HISTORY_PART_ROWS or chars >= PART_CHARS:
                history_parts.append(put(hist, np.zeros((len(hist), 0), dtype=np.float32)))
                hist, chars = [], 0
    if hist:
        history_parts.append(put(hist, np.zeros((len(hist), 0), dtype=np.float32)))
    return parts, history_parts
