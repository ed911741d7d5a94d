"""Re-embed a namespace with another embedder, resumably, while reads keep using the old vectors.

Phase 1 (``prepare``) reads the replica at sequence S, then, without holding it, embeds every
distinct memory text in batches: all states, deleted included, so every row's vector is in the
namespace's dimension (a paused or archived memory made active again goes straight back into
the index, and nothing reading vectors ever meets two sizes). Each batch is stored as a content-addressed part under
``reindex/<target>/parts/``: a crashed or interrupted run, started again, loads the parts and
embeds only the texts they lack. The vectors as of S are then written as one pack.

Phase 2 (``switch``) commits ONE ``embedder.switch`` entry (engine/reindex.py). Its build, re-run
on conflict, embeds the texts added or edited after S and carries them inline, so the switch
covers every memory at the sequence it lands on. Until then readers and writers use the old
embedder; from then on a writer still on the old one gets EmbedderMismatch (409) when it
re-validates, never a vector of the wrong model. Finally a checkpoint is written, so new
replicas start in the new space without replaying the switch.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from ..embed.base import Embedder
from ..engine import queries
from ..engine.log import encode_vector
from ..engine.namespace import Namespace, Plan
from ..engine.operations import EmbedderSwitch
from ..engine.reindex import iter_pack_keys, pack, text_digest, unpack
from ..errors import InvalidInput, ServiceUnavailable
from ..store import IF_ABSENT, NotFound, PreconditionFailed

__all__ = ["reindex", "prepare", "switch", "Prepared", "ReindexResult", "MAX_BATCH"]

MAX_BATCH = 4096
Progress = Callable[[int, int], None]  # (texts with a vector so far, texts in total)


@dataclass
class ReindexResult:
    user: str
    status: str  # "switched", "already" (on that embedder), "empty" (nothing written yet), "dry_run"
    embedder: str
    dim: int
    previous_embedder: str | None
    previous_dim: int | None
    memories: int  # rows, all states
    texts: int = 0  # distinct texts among them
    parts_found: int = 0  # parts left by an earlier run (resumed)
    embedded: int = 0  # texts embedded by this run (phase 1 + switch)
    inline: int = 0  # of which embedded at switch time (added or edited after phase 1)
    seq: int | None = None  # the switch entry's sequence
    checkpoint_written: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Prepared:
    """Phase 1's outcome: the pack of vectors as of ``seq``, and the same vectors in memory."""

    target_dir: str
    seq: int
    vectors_key: str
    sha256: str
    table: dict[bytes, np.ndarray]
    memories: int
    parts_found: int
    embedded: int


def _target(embedder: Embedder) -> tuple[str, int]:
    return embedder.id, int(embedder.dim)


def _embed(embedder: Embedder, texts: list[str], dim: int) -> np.ndarray:
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    if vectors.shape != (len(texts), dim) or not np.isfinite(vectors).all():
        raise ServiceUnavailable(
            f"embedder {embedder.id} returned vectors of shape {vectors.shape} for {len(texts)} texts (expected {dim}-d)"
        )
    return vectors


def _check_batch(batch: int) -> int:
    if not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise InvalidInput(f"batch must be 1-{MAX_BATCH}, got {batch!r}")
    return batch


def _load_parts(ns: Namespace, target_dir: str, dim: int) -> tuple[dict[bytes, np.ndarray], int]:
    """Vectors already embedded by earlier runs; a part that fails its checksum is ignored (re-embedded)."""

    def load(item: tuple[str, str]):
        key, sha = item
        try:
            body = ns.store.get(key).body
        except NotFound:  # collected meanwhile
            return None
        if hashlib.sha256(body).hexdigest() != sha:
            return None
        try:
            return unpack(body, dim)
        except ValueError:
            return None

    table: dict[bytes, np.ndarray] = {}
    found = 0
    with ThreadPoolExecutor(8) as pool:
        for loaded in pool.map(load, list(iter_pack_keys(ns.store, target_dir))):
            if loaded is None:
                continue
            found += 1
            for d, v in zip(*loaded):
                table[d] = v
    return table, found


def _put_content(ns: Namespace, key: str, body: bytes) -> None:
    try:
        ns.store.head(key)
        return  # content-addressed: a resumed run does not upload the same part again
    except NotFound:
        pass
    try:
        ns.store.put(key, body, IF_ABSENT)
    except PreconditionFailed:  # content-addressed: already there, with this very content
        pass


def _write_progress(ns: Namespace, target_dir: str, doc: dict) -> None:
    ns.store.put(ns.keys.reindex_progress(target_dir), json.dumps(doc, sort_keys=True).encode())


def _snapshot(ns: Namespace) -> tuple[int, str | None, int | None, list[str]]:
    """(seq, embedder, dim, every memory's text in vid order), holding the replica only to copy."""
    with ns.read() as rep:
        texts = list(queries.texts_by_vid(rep))
        return rep.seq, rep.embedder, rep.dim, texts


def prepare(ns: Namespace, embedder: Embedder, *, batch: int = 64, progress: Progress | None = None) -> Prepared:
    """Phase 1: embed every distinct text as of now into parts, then write the pack for the switch."""
    _check_batch(batch)
    target, dim = _target(embedder)
    target_dir = ns.keys.reindex_dir(target, dim)
    seq, _, _, texts = _snapshot(ns)
    distinct = {text_digest(t): t for t in texts}
    table, parts_found = _load_parts(ns, target_dir, dim)
    missing = [(d, t) for d, t in distinct.items() if d not in table]
    done = len(distinct) - len(missing)
    doc = {"embedder": target, "dim": dim, "seq": seq, "texts": len(distinct), "started_at": time.time()}
    _write_progress(ns, target_dir, {**doc, "done": done})
    if progress:
        progress(done, len(distinct))
    for i in range(0, len(missing), batch):
        chunk = missing[i : i + batch]
        vectors = _embed(embedder, [t for _, t in chunk], dim)
        body = pack([d for d, _ in chunk], vectors)
        _put_content(ns, ns.keys.reindex_part(target_dir, hashlib.sha256(body).hexdigest()), body)
        table.update(zip((d for d, _ in chunk), vectors))
        done += len(chunk)
        if progress:
            progress(done, len(distinct))
    _write_progress(ns, target_dir, {**doc, "done": done})
    digests = sorted(distinct)
    body = pack(digests, np.stack([table[d] for d in digests]) if digests else np.empty((0, dim), np.float32))
    sha = hashlib.sha256(body).hexdigest()
    key = ns.keys.reindex_vectors(target_dir, sha)
    # Always written, even when present: a fresh mtime keeps GC off a pack that an earlier,
    # finished run of the same target produced and that this switch is about to reference.
    ns.store.put(key, body)
    return Prepared(
        target_dir=target_dir, seq=seq, vectors_key=key, sha256=sha,
        table={d: table[d] for d in digests}, memories=len(texts), parts_found=parts_found, embedded=len(missing),
    )


def switch(ns: Namespace, embedder: Embedder, prepared: Prepared, *, batch: int = 64) -> tuple[int | None, int]:
    """Phase 2: commit the switch; returns (its sequence or None if already switched, texts embedded inline)."""
    target, dim = _target(embedder)
    extra: dict[bytes, np.ndarray] = {}  # kept across re-runs of build: each text is embedded once

    def build(rep) -> Plan | None:
        if rep.embedder == target and rep.dim == dim:
            return None  # another run switched first
        texts = queries.texts_by_vid(rep)
        late = {}
        for t in texts:
            d = text_digest(t)
            if d not in prepared.table:
                late[d] = t
        need = [(d, t) for d, t in late.items() if d not in extra]
        for i in range(0, len(need), batch):
            chunk = need[i : i + batch]
            extra.update(zip((d for d, _ in chunk), _embed(embedder, [t for _, t in chunk], dim)))
        inline = sorted(late)
        op = EmbedderSwitch(
            embedder=target, dim=dim, vectors_key=prepared.vectors_key, sha256=prepared.sha256,
            inline={"digests": [d.hex() for d in inline], "vectors": [encode_vector(extra[d]) for d in inline]},
        )
        return Plan([op], (rep.seq + 1, len(inline)))

    out = ns.commit(build, actor="reindex")
    return (None, 0) if out is None else out


def reindex(
    ns: Namespace,
    embedder: Embedder,
    *,
    batch: int = 64,
    dry_run: bool = False,
    progress: Progress | None = None,
    compact: bool = True,
) -> ReindexResult:
    """Move ``ns`` to ``embedder``: phase 1, switch, then a checkpoint in the new space.

    Idempotent: a namespace already on that embedder (id and dimension) is left alone.
    """
    _check_batch(batch)
    started = time.perf_counter()
    target, dim = _target(embedder)
    _, current, current_dim, texts = _snapshot(ns)
    result = ReindexResult(
        user=ns.user, status="switched", embedder=target, dim=dim, previous_embedder=current,
        previous_dim=current_dim, memories=len(texts), texts=len({text_digest(t) for t in texts}),
    )
    target_dir = ns.keys.reindex_dir(target, dim)
    if current is None:
        result.status = "empty"  # the first write records whichever embedder the server uses
    elif current == target and current_dim == dim:
        result.status = "already"
        _mark_switched(ns, target_dir, None)
    elif dry_run:
        result.status = "dry_run"
        result.parts_found = sum(1 for _ in iter_pack_keys(ns.store, target_dir))
    else:
        prepared = prepare(ns, embedder, batch=batch, progress=progress)
        result.parts_found, result.embedded = prepared.parts_found, prepared.embedded
        seq, inline = switch(ns, embedder, prepared, batch=batch)
        result.seq, result.inline, result.embedded = seq, inline, result.embedded + inline
        if seq is None:
            result.status = "already"
        _mark_switched(ns, target_dir, seq)
        if compact:
            result.checkpoint_written = ns.compact().published
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _mark_switched(ns: Namespace, target_dir: str, seq: int | None) -> None:
    """Record that this target's files served a switch, so GC may remove them once checkpointed past it."""
    key = ns.keys.reindex_progress(target_dir)
    try:
        doc = json.loads(ns.store.get(key).body)
    except NotFound:
        return  # nothing was written for this target
    if doc.get("switched_seq") is not None:
        return
    if seq is None:
        seq = ns.replica.seq  # already switched (by another run): the namespace is on the target now
    _write_progress(ns, target_dir, {**doc, "switched_seq": seq})
