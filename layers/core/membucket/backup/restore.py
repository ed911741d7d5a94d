"""Restore a backup into a store: the whole bucket or one user, at the recorded or an earlier point.

Every namespace is planned and checked before anything is written: a point outside the
retained log, or a non-empty target namespace without ``force``, refuses the whole restore.

Into an empty namespace the objects keep their sequence numbers: the planned checkpoint, the
retained entries up to the point (each created with If-None-Match, so a writer racing the
restore makes it fail rather than interleave) and the access records, then ``CHECKPOINT``.

Over a namespace that holds data (``force``), sequence numbers never go backwards, so no log
key is ever reused with other content (a backup of the old timeline, or a replica that read
it, could not tell the two apart). With L the namespace's highest sequence:

1. Replay the plan locally (from the backup) and write that state as a checkpoint at R = L+1.
2. Claim ``log/<R>`` with If-None-Match: an entry whose one op, ``namespace.restore``, names that
   checkpoint. 412 means a writer committed R first: re-read L and start again.
3. Move ``CHECKPOINT`` to R (If-Match).

Every replica, warm or cold, reaches R through the log (a warm one applies the restore entry,
which loads the named checkpoint; a writer that lost R syncs to it first), so all of them see
exactly the restored state, and later commits build on it. The old entries stay below R as
history until GC removes them.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..engine.checkpoint import Pointer, read_pointer
from ..engine.incremental import prepare, upload
from ..engine.keys import NamespaceKeys
from ..engine.log import LogEntry
from ..engine.operations import NamespaceRestore
from ..engine.replica import Replica
from ..engine.segments import FORMAT, MANIFEST
from ..errors import BackupUnusable, Conflict, InvalidInput, NotFoundError, TargetNotEmpty
from ..store import IF_ABSENT, NotFound, ObjectStore, PreconditionFailed, PutCondition
from .manifest import OBJECTS, Manifest, ObjectsView, check_apart, load_manifest
from .plan import RestorePlan, plan_restore, replay, seq_at_time

__all__ = ["RestoreReport", "restore"]


@dataclass
class RestoreReport:
    backup: str
    namespaces: dict[str, dict] = field(default_factory=dict)  # user -> {"seq", "mode", "namespace_seq"}
    tokens_restored: int = 0
    tokens_unchanged: int = 0
    objects_copied: int = 0


def _plans(manifest: Manifest, users: list[str], at_seq: int | None, at_time: datetime | None) -> list[RestorePlan]:
    plans = []
    for user in users:
        rec = manifest.namespaces[user]
        seq = at_seq if at_seq is not None else (seq_at_time(user, rec, at_time) if at_time is not None else None)
        plans.append(plan_restore(user, rec, seq))
    return plans


def _is_empty(store: ObjectStore, user: str) -> bool:
    return next(iter(store.list(NamespaceKeys(user).root, limit=1)), None) is None


def restore(
    target: ObjectStore,
    backup: ObjectStore,
    *,
    cache_dir: Path | str,
    backup_id: str | None = None,
    user: str | None = None,
    at_seq: int | None = None,
    at_time: datetime | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RestoreReport:
    """Restore from the backup target ``backup`` into ``target`` (see the module doc).

    Example: ``restore(open_store("s3://data/mb"), open_store("s3://bak/mb"), cache_dir=tmp, user="alice")``
    """
    if at_seq is not None and at_time is not None:
        raise InvalidInput("give a sequence or a time, not both")
    if at_seq is not None and user is None:
        raise InvalidInput("a sequence is per namespace: restore --at SEQ needs --user")
    check_apart(target, backup)
    manifest = load_manifest(backup, backup_id)
    objects = ObjectsView(backup, manifest.moved())
    if user is not None and user not in manifest.namespaces:
        raise NotFoundError(f"backup {manifest.id} has no namespace {user!r}")
    users = [user] if user is not None else sorted(manifest.namespaces)
    try:
        plans = _plans(manifest, users, at_seq, at_time)
    except (TypeError, KeyError, ValueError, AttributeError) as exc:  # records of the wrong shape (hand-edited)
        raise BackupUnusable(f"backup {manifest.id} has a malformed namespace record: {type(exc).__name__}: {exc}") from None
    tokens = [t for t in manifest.tokens if user is None or t.user == user]

    # Check everything before writing anything.
    for plan in plans:
        _check_keys(manifest, plan)
    occupied = [p.user for p in plans if not _is_empty(target, p.user)]
    token_bodies = {}
    changed_tokens = []
    for t in tokens:
        if not isinstance(t.key, str) or not _TOKEN_KEY.fullmatch(t.key) or t.object not in manifest.objects:
            raise BackupUnusable(f"token record {str(t.key)[:80]!r} is not a token key with a listed object")
        body = backup.get(t.object).body
        if hashlib.sha256(body).hexdigest() != manifest.objects[t.object].sha256:
            raise BackupUnusable(f"token object {t.object} does not match its checksum")
        try:
            owner = json.loads(body).get("user")
        except (ValueError, AttributeError):
            owner = None
        if owner != t.user:  # a token restored "for alice" must be alice's
            raise BackupUnusable(f"token {t.key} belongs to {owner!r}, not {t.user!r} as the manifest says")
        token_bodies[t.key] = body
        try:
            if target.get(t.key).body != body:
                changed_tokens.append(t.key)
        except NotFound:
            pass
    if (occupied or changed_tokens) and not force:
        what = [f"namespace {u!r}" for u in occupied] + [f"token {k}" for k in changed_tokens]
        raise TargetNotEmpty(f"the target holds data the restore would replace ({', '.join(what[:5])}"
                             f"{', ...' if len(what) > 5 else ''}); use --force to replace it", users=occupied)

    report = RestoreReport(backup=manifest.id)
    for i, plan in enumerate(plans):
        if plan.user in occupied:
            seq = _replace(target, objects, plan, manifest, Path(cache_dir))
            report.namespaces[plan.user] = {"seq": plan.seq, "mode": "replaced", "namespace_seq": seq}
        else:
            report.objects_copied += _copy_in(target, objects, plan, manifest)
            report.namespaces[plan.user] = {"seq": plan.seq, "mode": "copied", "namespace_seq": plan.seq}
        if progress is not None:
            progress(i + 1, len(plans))
    for key, body in token_bodies.items():
        try:
            unchanged = target.get(key).body == body
        except NotFound:
            unchanged = False
        if unchanged:
            report.tokens_unchanged += 1
        else:
            target.put(key, body)
            report.tokens_restored += 1
    return report


_TOKEN_KEY = re.compile(r"tokens/[A-Za-z0-9_-]{1,128}\.json")


def _check_keys(manifest: Manifest, plan: RestorePlan) -> None:
    """The manifest is data: every key it lists under a user (access records, side objects,
    checkpoint directories) must lie inside that user's namespace, or a tampered backup could
    make ``restore --user alice`` write (or read) another user's objects."""
    keys = NamespaceKeys(plan.user)
    rec = manifest.namespaces[plan.user]
    # (key as the manifest gives it, the prefixes it must lie under, its shape check)
    listed: list[tuple[Any, tuple[str, ...], Callable[[str], bool]]]
    listed = [(k, (keys.access_prefix,), lambda k: True) for k in rec.access if k != keys.preferences]
    listed += [(k, (keys.blobs_prefix, keys.reindex_prefix), lambda k: keys.side_sha256(k) is not None) for k in rec.sides]
    listed += [(c.get("dir") if isinstance(c, dict) else None, (keys.checkpoints_prefix,), lambda k: True) for c in rec.checkpoints]
    for c in rec.checkpoints:
        for sha in c.get("segments", []) if isinstance(c, dict) else []:
            key = f"{keys.segments_prefix}{sha}.parquet" if isinstance(sha, str) else None
            listed.append((key, (keys.segments_prefix,), lambda k: keys.segment_sha256(k) is not None))
    for key, prefixes, shaped in listed:
        inside = isinstance(key, str) and key.startswith(prefixes) and shaped(key)
        if not inside or any(p in ("", ".", "..") for p in key[len(keys.root):].rstrip("/").split("/")):
            raise BackupUnusable(f"backup manifest lists {str(key)[:120]!r} under user {plan.user!r}, outside {' or '.join(prefixes)}",
                                 user=plan.user)


def _listed_sha256(manifest: Manifest, objects: ObjectsView, key: str) -> str | None:
    """The manifest's checksum of a source key's copy (None when the manifest does not list it)."""
    rec = manifest.objects.get(objects.moved.get(key) or OBJECTS + key)
    return None if rec is None else rec.sha256


def _access_keys(manifest: Manifest, plan: RestorePlan) -> list[str]:
    """Objects restored verbatim: access records, and the side objects log entries name."""
    rec = manifest.namespaces[plan.user]
    return list(rec.access) + list(rec.sides)


def _copy_in(target: ObjectStore, objects: ObjectsView, plan: RestorePlan, manifest: Manifest) -> int:
    """Restore into an empty namespace, keeping sequence numbers; CHECKPOINT last."""
    keys = NamespaceKeys(plan.user)
    rec = manifest.namespaces[plan.user]
    copied = 0
    if plan.checkpoint is not None:
        for sha in plan.checkpoint.get("segments", []):  # format 2: the segments, then the manifest
            objects.copy(keys.segment(sha), keys.segment(sha), dst=target)
            copied += 1
        names = (MANIFEST,) if plan.checkpoint.get("format", 1) >= 2 else ("db.duckdb", "index.faiss", "meta.json")
        for name in names:
            objects.copy(plan.checkpoint["dir"] + name, plan.checkpoint["dir"] + name, dst=target)
            copied += 1
    for key in _access_keys(manifest, plan):
        objects.copy(key, key, dst=target)
        copied += 1
    for seq in sorted(int(s) for s, _ in rec.log):
        if seq > plan.seq:
            break
        body = objects.get(keys.log(seq)).body
        if hashlib.sha256(body).hexdigest() != _listed_sha256(manifest, objects, keys.log(seq)):
            raise BackupUnusable(f"log entry {keys.log(seq)} does not match its checksum", user=plan.user)
        try:
            target.put(keys.log(seq), body, IF_ABSENT)
        except PreconditionFailed:
            raise Conflict(f"user {plan.user!r} was written to during the restore (log entry {seq}); restore again with --force") from None
        copied += 1
    if plan.checkpoint is not None:
        body = Pointer(plan.checkpoint["seq"], plan.checkpoint["dir"], format=plan.checkpoint.get("format")).to_json()
        try:
            target.put(keys.pointer, body, IF_ABSENT)
        except PreconditionFailed:
            raise Conflict(f"user {plan.user!r} was compacted during the restore; restore again with --force") from None
        copied += 1
    return copied


def _write_checkpoint(store: ObjectStore, keys: NamespaceKeys, rep: Replica, seq: int) -> str:
    """Upload ``rep`` as an immutable (segmented, whole) checkpoint at ``seq``; return its directory."""
    rep.advance(seq)
    prepared = prepare(store, keys, rep, None)
    try:
        return upload(store, keys, prepared).dir
    finally:
        prepared.release()


def _highest_seq(store: ObjectStore, keys: NamespaceKeys) -> int:
    pointer = read_pointer(store, keys)
    seqs = [keys.seq_of_log(info.key) for info in store.list(keys.log_prefix)]
    return max([s for s in seqs if s is not None] + [pointer.seq if pointer else 0])


def _replace(target: ObjectStore, objects: ObjectsView, plan: RestorePlan, manifest: Manifest, cache_dir: Path) -> int:
    """Replace a namespace that holds data (see the module doc); returns the restore entry's sequence."""
    keys = NamespaceKeys(plan.user)
    with tempfile.TemporaryDirectory(prefix="restore-", dir=_mkdir(cache_dir)) as tmp:
        rep = replay(objects, plan, Path(tmp), sha256=lambda key: _listed_sha256(manifest, objects, key))
        for _ in range(20):
            seq = _highest_seq(target, keys) + 1
            ckpt_dir = _write_checkpoint(target, keys, rep, seq)
            op = NamespaceRestore(checkpoint=ckpt_dir, backup=manifest.id, source_seq=plan.seq)
            entry = LogEntry(seq=seq, ops=[op.to_dict()], actor="restore")
            try:
                target.put(keys.log(seq), entry.encode(), IF_ABSENT)
            except PreconditionFailed:
                continue  # a writer committed that number first; its checkpoint files are left for GC
            _move_pointer(target, keys, Pointer(seq, ckpt_dir, format=FORMAT))
            for key in _access_keys(manifest, plan):
                try:
                    target.head(key)
                except NotFound:
                    objects.copy(key, key, dst=target)
            return seq
    raise Conflict(f"user {plan.user!r} kept being written to during the restore; try again")


def _move_pointer(store: ObjectStore, keys: NamespaceKeys, new: Pointer) -> None:
    body = new.to_json()
    for _ in range(20):
        current = read_pointer(store, keys)
        if current is not None and current.seq >= new.seq:
            return  # compacted past the restore already: readers reach it through the log
        condition = IF_ABSENT if current is None else PutCondition(if_match=current.etag)
        try:
            store.put(keys.pointer, body, condition)
            return
        except PreconditionFailed:
            continue
    raise Conflict(f"could not move CHECKPOINT of {keys.user!r}; the restore entry is committed, compaction will catch up")


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
