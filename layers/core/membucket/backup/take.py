"""Take a backup: every namespace and the token store, each at a consistent sequence, copied once.

Protocol, per namespace, while writers keep committing:

1. Read ``CHECKPOINT`` (sequence P, directory D), then LIST ``ns/<user>/``.
2. S = the end of the contiguous run of log entries P+1, P+2, ... Entries are created in order
   with If-None-Match and never change, so the state at S is fixed: whatever commits later is
   simply not in this backup.
3. Copy what restoring any retained point up to S needs: the checkpoints at or below S (D among
   them; for format 2, the manifest and the segments it names, which are content-addressed, so a
   segment already copied for an earlier checkpoint or backup is skipped: incremental backups copy
   only new segments), the retained log entries up to S and the access records. Objects already in the
   target with the size and source ETag the previous manifest recorded are skipped. Checkpoint
   data files (whose sha256 their meta.json gives) are copied server-side when both stores share
   an S3 endpoint; small objects (entries, meta.json, access records) are read and written,
   because their checksum (and an entry's commit time) go into the manifest.
4. If GC removed an object S depends on between 1 and 3 (the pointer moved), start the
   namespace again; older history that vanished is left out of the manifest.

Tokens are read and stored content-addressed (a token changes when revoked). The manifest is
written last, with If-None-Match: a backup interrupted before it does not exist. A run that
could not reach every namespace writes ``partial.json`` instead (not a backup, never listed or
restored), so the next run skips what it copied.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..auth.tokens import PREFIX as TOKENS
from ..engine.checkpoint import CheckpointMeta, read_pointer
from ..engine.keys import NamespaceKeys, list_users
from ..engine.log import LogEntry, format_ts
from ..engine.segments import MANIFEST
from ..engine.segments import Manifest as CheckpointManifest
from ..store import IF_ABSENT, NotFound, ObjectInfo, ObjectStore
from .manifest import BACKUPS, OBJECTS, PARTIAL, Manifest, NamespaceRecord, ObjectRecord, TokenRecord, check_apart, list_backups, load_manifest, new_backup_id

__all__ = ["BackupReport", "take_backup", "namespaces"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (namespaces done, namespaces in all)


@dataclass
class BackupReport:
    id: str | None = None  # None when the backup did not complete (no manifest written)
    namespaces: int = 0
    objects: int = 0
    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0
    server_side: int = 0  # copies that never passed through this process
    retried: int = 0  # namespaces started again because GC moved under them
    not_reached: int = 0
    failed: list[str] = field(default_factory=list)


class _Moved(Exception):
    """An object the recorded sequence needs vanished: the namespace must be read again."""


def namespaces(store: ObjectStore) -> list[str]:
    """Every user with objects in the bucket."""
    return list_users(store)


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass
class _Tally:
    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0
    server_side: int = 0
    retried: int = 0

    def add_to(self, report: BackupReport) -> None:
        for name in ("copied", "skipped", "bytes_copied", "server_side", "retried"):
            setattr(report, name, getattr(report, name) + getattr(self, name))


Placed = dict[str, tuple[str, ObjectRecord]]  # source key -> (target key, record)


class _Run:
    """One namespace's (or the tokens') share of a backup run, with its own counters (threads).

    An object goes to ``objects/<source key>``, unless that key already holds other content
    (a key reused after a wipe and restore, or not known to hold the same bytes): then it goes
    to ``objects/<source key>.<sha256[:16]>`` and its record names the source key. Nothing in
    the target is ever overwritten, so older manifests stay restorable.
    """

    def __init__(self, src: ObjectStore, dst: ObjectStore, prev: Manifest | None, have: dict[str, int],
                 by_source: dict[str, tuple[str, ObjectRecord]]) -> None:
        self.src, self.dst, self.prev, self.have, self.by_source = src, dst, prev, have, by_source
        self.report = _Tally()
        self.server_side = _same_endpoint(src, dst)

    def _known(self, info: ObjectInfo) -> tuple[str, ObjectRecord] | None:
        """The copy an earlier run made of exactly this source object (same ETag and size), if still there."""
        hit = self.by_source.get(info.key)
        if hit is not None and hit[1].etag == info.etag and hit[1].size == info.size and self.have.get(hit[0]) == info.size:
            return hit
        return None

    def _place(self, key: str, size: int, sha256: str, body: bytes | None) -> tuple[str, bool]:
        """Where content ``sha256`` of ``key`` goes, and whether it is already there."""
        target = OBJECTS + key
        if target not in self.have:
            return target, False
        rec = self.prev.objects.get(target) if self.prev is not None else None
        if rec is not None:
            same = rec.sha256 == sha256
        elif body is not None:  # not in the records: compare with what is there
            same = _sha256(self.dst.get(target).body) == sha256
        else:
            same = False
        if same and self.have[target] == size:
            return target, True
        alt = f"{target}.{sha256[:16]}"
        return alt, self.have.get(alt) == size

    def _record(self, placed: Placed, key: str, target: str, size: int, sha256: str, etag: str, wrote: bool) -> None:
        placed[key] = (target, ObjectRecord(size=size, sha256=sha256, etag=etag, source=key))
        if wrote:
            self.report.copied += 1
            self.report.bytes_copied += size
        else:
            self.report.skipped += 1

    def small(self, info: ObjectInfo, placed: Placed) -> bytes | None:
        """Copy a small object by reading it (its checksum goes in the manifest); None when skipped."""
        hit = self._known(info)
        if hit is not None:
            placed[info.key] = hit
            self.report.skipped += 1
            return None
        res = self.src.get(info.key)
        sha = _sha256(res.body)
        target, there = self._place(info.key, len(res.body), sha, res.body)
        if not there:
            self.dst.put(target, res.body)
        self._record(placed, info.key, target, len(res.body), sha, res.etag, wrote=not there)
        return res.body

    def large(self, info: ObjectInfo, sha256: str, placed: Placed) -> None:
        """Copy a checkpoint data file whose checksum is known, server-side where possible."""
        hit = self._known(info)
        if hit is not None and hit[1].sha256 == sha256:
            placed[info.key] = hit
            self.report.skipped += 1
            return
        target, there = self._place(info.key, info.size, sha256, None)
        if not there:
            self.src.copy(info.key, target, dst=self.dst)
            self.report.server_side += int(self.server_side)
        self._record(placed, info.key, target, info.size, sha256, info.etag, wrote=not there)

    def copy_of(self, placed: Placed, key: str) -> bytes:
        return self.dst.get(placed[key][0]).body

    # -- one namespace -----------------------------------------------------------------------
    def namespace(self, user: str) -> tuple[NamespaceRecord, Placed]:
        for _attempt in range(5):
            try:
                return self._namespace_once(user)
            except _Moved as exc:
                log.info("backup of %s: %s; reading the namespace again", user, exc)
                self.report.retried += 1
        raise RuntimeError(f"namespace {user} kept changing under the backup (GC racing); try again")

    def _namespace_once(self, user: str) -> tuple[NamespaceRecord, Placed]:
        keys = NamespaceKeys(user)
        pointer = read_pointer(self.src, keys)
        base = pointer.seq if pointer is not None else 0
        logs: dict[int, ObjectInfo] = {}
        dirs: dict[str, dict[str, ObjectInfo]] = {}
        access: list[ObjectInfo] = []
        sides: list[tuple[ObjectInfo, str]] = []
        segments: dict[str, ObjectInfo] = {}
        for info in self.src.list(keys.root):
            if info.key.startswith(keys.log_prefix):
                seq = keys.seq_of_log(info.key)
                if seq is not None:
                    logs[seq] = info
            elif info.key.startswith(keys.checkpoints_prefix):
                d, name = keys.checkpoint_dir_of(info.key)
                dirs.setdefault(d, {})[name] = info
            elif info.key.startswith(keys.access_prefix) or info.key == keys.preferences:
                access.append(info)  # restored verbatim (preferences: as they were at the backup)
            elif (sha := keys.side_sha256(info.key)) is not None:
                sides.append((info, sha))
            elif (sha := keys.segment_sha256(info.key)) is not None:
                segments[sha] = info
        seq = base
        while seq + 1 in logs:
            seq += 1
        if pointer is not None and pointer.dir not in dirs:
            raise _Moved(f"checkpoint {pointer.dir} is gone")

        prev_rec = self.prev.namespaces.get(user) if self.prev is not None else None
        prev_ts = {int(s): ts for s, ts in prev_rec.log} if prev_rec is not None else {}
        prev_ckpt = {c["dir"]: c for c in prev_rec.checkpoints} if prev_rec is not None else {}
        objects: Placed = {}
        record = NamespaceRecord(seq=seq, pointer=None if pointer is None else json.loads(pointer.to_json()))

        for d in sorted(dirs):
            files = dirs[d]
            if MANIFEST in files:
                try:
                    ckpt = self._segmented(d, files[MANIFEST], prev_ckpt.get(d), segments, seq, objects)
                except NotFound:
                    if pointer is not None and d == pointer.dir:
                        raise _Moved(f"checkpoint {d} vanished while copying") from None
                    objects.pop(files[MANIFEST].key, None)
                    continue  # an old checkpoint collected meanwhile: leave it out
                if ckpt is not None:
                    record.checkpoints.append(ckpt)
                continue
            if not {"meta.json", "db.duckdb", "index.faiss"} <= set(files):
                continue  # being written, or an orphan of a failed compaction
            try:
                body = self.small(files["meta.json"], objects)
                if body is None and d in prev_ckpt:
                    ckpt = prev_ckpt[d]
                else:
                    meta = CheckpointMeta.from_json(body if body is not None else self.copy_of(objects, files["meta.json"].key))
                    ckpt = {"seq": meta.seq, "dir": d, "created_at": meta.created_at,
                            "db_sha256": meta.db_sha256, "index_sha256": meta.index_sha256}
                if ckpt["seq"] > seq:
                    objects.pop(files["meta.json"].key, None)
                    continue  # newer than the recorded sequence: not part of this backup
                self.large(files["db.duckdb"], ckpt["db_sha256"], objects)
                self.large(files["index.faiss"], ckpt["index_sha256"], objects)
            except NotFound:
                if pointer is not None and d == pointer.dir:
                    raise _Moved(f"checkpoint {d} vanished while copying") from None
                for name in files:
                    objects.pop(files[name].key, None)
                continue  # an old checkpoint collected meanwhile: leave it out
            record.checkpoints.append(ckpt)

        for s in sorted(logs):
            if s > seq:
                break
            try:
                body = self.small(logs[s], objects)
            except NotFound:
                if s > base:
                    raise _Moved(f"log entry {s} vanished while copying") from None
                continue  # older than the checkpoint and collected meanwhile
            ts = format_ts(LogEntry.decode(body, s).ts) if body is not None else prev_ts.get(s)
            if ts is None:  # skipped, but the previous manifest did not list it: read the copy
                ts = format_ts(LogEntry.decode(self.copy_of(objects, logs[s].key), s).ts)
            record.log.append([s, ts])

        for info in access:
            try:
                self.small(info, objects)
                record.access.append(info.key)
            except NotFound:
                continue
        for info, sha in sides:  # immutable, named by their sha256: copied server-side, once
            try:
                self.large(info, sha, objects)
                record.sides.append(info.key)
            except NotFound:
                continue  # collected meanwhile: no retained entry names it any more
        return record, objects

    def _segmented(self, d: str, manifest: ObjectInfo, prev: dict | None, segments: dict[str, ObjectInfo], seq: int,
                   objects: Placed) -> dict | None:
        """Copy a format-2 checkpoint (its segments, then the manifest's record); None if newer than ``seq``."""
        body = self.small(manifest, objects)
        if body is None and prev is not None and "segments" in prev:
            ckpt = prev
        else:
            man = CheckpointManifest.from_json(body if body is not None else self.copy_of(objects, manifest.key))
            ckpt = {"seq": man.seq, "dir": d, "created_at": man.created_at, "format": man.format,
                    "segments": sorted(set(man.objects()))}
        if ckpt["seq"] > seq:
            objects.pop(manifest.key, None)
            return None  # newer than the recorded sequence: not part of this backup
        for sha in ckpt["segments"]:
            info = segments.get(sha)
            if info is None:
                raise NotFound(f"segment {sha} of {d}")
            self.large(info, sha, objects)
        return ckpt

    # -- tokens ------------------------------------------------------------------------------
    def tokens(self) -> tuple[list[TokenRecord], dict[str, ObjectRecord]]:
        out: list[TokenRecord] = []
        objects: dict[str, ObjectRecord] = {}
        for info in self.src.list(TOKENS):
            try:
                body = self.src.get(info.key).body
            except NotFound:
                continue  # deleted meanwhile
            sha = _sha256(body)
            token_id = info.key[len(TOKENS):].removesuffix(".json")
            target = f"{OBJECTS}{TOKENS}{token_id}/{sha}.json"
            if self.have.get(target) == len(body):
                self.report.skipped += 1
            else:
                self.dst.put(target, body)
                self.report.copied += 1
                self.report.bytes_copied += len(body)
            objects[target] = ObjectRecord(size=len(body), sha256=sha, etag=info.etag)
            out.append(TokenRecord(key=info.key, object=target, user=str(json.loads(body).get("user", ""))))
        return out, objects


def _same_endpoint(src: ObjectStore, dst: ObjectStore) -> bool:
    client_a, client_b = getattr(src, "client", None), getattr(dst, "client", None)
    return client_a is not None and client_b is not None and client_a.meta.endpoint_url == client_b.meta.endpoint_url


def _previous(dst: ObjectStore) -> Manifest | None:
    """What earlier runs recorded: the newest manifest, plus the partial runs that followed it."""
    ids = list_backups(dst)
    prev = load_manifest(dst, ids[-1]) if ids else None
    for info in dst.list(BACKUPS):
        run_id = info.key[len(BACKUPS):].split("/", 1)[0]
        if info.key.endswith("/" + PARTIAL) and (not ids or run_id > ids[-1]):
            partial = Manifest.from_json(dst.get(info.key).body)
            if prev is None:
                prev = partial
            else:
                prev.namespaces.update(partial.namespaces)
                prev.objects.update(partial.objects)
    return prev


def take_backup(
    src: ObjectStore,
    dst: ObjectStore,
    *,
    workers: int = 8,
    progress: Progress | None = None,
    time_left: Callable[[], float] | None = None,
    reserve_seconds: float = 60.0,
) -> BackupReport:
    """Back up ``src`` into ``dst`` (see the module doc); returns what was copied and skipped.

    Example: ``take_backup(open_store("s3://data/membucket"), open_store("s3://backups/membucket"))``
    """
    check_apart(src, dst)
    started = datetime.now(UTC)
    prev = _previous(dst)
    have = {info.key: info.size for info in dst.list(OBJECTS)}
    by_source = {rec.source: (target, rec) for target, rec in (prev.objects.items() if prev is not None else ()) if rec.source}
    report = BackupReport()
    manifest = Manifest(id=new_backup_id(started), source=src.url, started_at=format_ts(started.replace(tzinfo=None)))
    run = _Run(src, dst, prev, have, by_source)
    manifest.tokens, token_objects = run.tokens()
    manifest.objects.update(token_objects)
    run.report.add_to(report)
    users = namespaces(src)
    done = 0

    def one(user: str):
        if time_left is not None and time_left() < reserve_seconds:
            return user, None, None
        run = _Run(src, dst, prev, have, by_source)
        try:
            return user, run.namespace(user), run.report
        except Exception:  # one broken namespace must not stop the others (the backup is then incomplete)
            log.exception("backup of namespace %s failed", user)
            return user, False, run.report

    with ThreadPoolExecutor(max(1, workers)) as pool:
        for user, result, tally in pool.map(one, users):
            done += 1
            if progress is not None:
                progress(done, len(users))
            if tally is not None:
                tally.add_to(report)
            if result is None:
                report.not_reached += 1
                continue
            if result is False:
                report.failed.append(user)
                continue
            record, placed = result
            manifest.namespaces[user] = record
            manifest.objects.update(placed.values())
    report.namespaces = len(manifest.namespaces)
    report.objects = len(manifest.objects)
    if report.failed or report.not_reached:
        # Not a backup (no manifest), but what it copied is recorded so the next run skips it.
        dst.put(f"{BACKUPS}{manifest.id}/{PARTIAL}", manifest.to_json(), IF_ABSENT)
        return report
    manifest.finished_at = format_ts(datetime.now(UTC).replace(tzinfo=None))
    dst.put(manifest.key, manifest.to_json(), IF_ABSENT)
    report.id = manifest.id
    return report


