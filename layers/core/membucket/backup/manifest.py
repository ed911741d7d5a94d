"""The backup target's layout and the manifest that makes a backup restorable.

    <target>/objects/ns/<user>/log/<seq>.json           immutable objects, under their source keys,
    <target>/objects/ns/<user>/checkpoints/<dir>/...    shared by every backup (copied once)
    <target>/objects/ns/<user>/access/<time>-<id>.json
    <target>/objects/tokens/<id>/<sha256>.json          a token as it was (tokens change: revocation)
    <target>/backups/<id>/manifest.json                 written last: a backup without it does not exist
    <target>/backups/<id>/partial.json                  instead, when a run could not reach every namespace

The manifest names, per namespace, the recorded sequence ``seq``, the checkpoint the pointer
named, the retained checkpoints and log entries (with their commit timestamps, for
point-in-time restore) and, for every object, its size, sha256 and the source ETag it was
copied from (so the next run can skip it). Backup ids sort by time.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from ..errors import BackupUnusable, InvalidInput, NotFoundError
from ..store import NotFound, ObjectStore, PutCondition
from ..store.base import GetResult, ObjectInfo

__all__ = [
    "FORMAT", "OBJECTS", "BACKUPS", "PARTIAL", "ObjectRecord", "NamespaceRecord", "TokenRecord", "Manifest",
    "new_backup_id", "list_backups", "load_manifest", "ObjectsView",
]

FORMAT = 1
OBJECTS = "objects/"
BACKUPS = "backups/"
PARTIAL = "partial.json"  # what an incomplete run copied (not a backup: never listed or restored)


@dataclass
class ObjectRecord:
    size: int
    sha256: str
    etag: str  # the source object's ETag when it was copied
    source: str = ""  # the source key (namespace objects); stored at objects/<source> unless that held other content


@dataclass
class TokenRecord:
    key: str  # tokens/<id>.json in the source
    object: str  # where its bytes are, relative to the target
    user: str


@dataclass
class NamespaceRecord:
    seq: int
    pointer: dict | None  # {"seq", "dir"} as CHECKPOINT named it, or None
    checkpoints: list[dict] = field(default_factory=list)  # {"seq", "dir", "created_at"}, seq <= self.seq
    log: list[list] = field(default_factory=list)  # [seq, ts] for retained entries <= self.seq
    access: list[str] = field(default_factory=list)  # access-record keys (and preferences.json)
    # content-addressed objects log entries name (bulk-import parts, reindex vector packs):
    # replaying an entry not yet under a checkpoint reads them
    sides: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    id: str
    source: str
    started_at: str
    finished_at: str = ""
    namespaces: dict[str, NamespaceRecord] = field(default_factory=dict)
    tokens: list[TokenRecord] = field(default_factory=list)
    objects: dict[str, ObjectRecord] = field(default_factory=dict)  # target key -> record
    format: int = FORMAT

    @property
    def key(self) -> str:
        return f"{BACKUPS}{self.id}/manifest.json"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Manifest:
        doc = json.loads(body)
        if doc.get("format") != FORMAT:
            raise BackupUnusable(f"unsupported backup manifest format {doc.get('format')!r}")
        return cls(
            id=doc["id"], source=doc["source"], started_at=doc["started_at"], finished_at=doc["finished_at"],
            namespaces={u: NamespaceRecord(**r) for u, r in doc["namespaces"].items()},
            tokens=[TokenRecord(**t) for t in doc["tokens"]],
            objects={k: ObjectRecord(**o) for k, o in doc["objects"].items()},
        )

    def moved(self) -> dict[str, str]:
        """Source keys whose copy is not at ``objects/<source key>`` (that key held other content)."""
        return {rec.source: target for target, rec in self.objects.items() if rec.source and target != OBJECTS + rec.source}

    def summary(self) -> dict:
        return {
            "id": self.id, "source": self.source, "started_at": self.started_at, "finished_at": self.finished_at,
            "namespaces": len(self.namespaces), "tokens": len(self.tokens), "objects": len(self.objects),
            "bytes": sum(o.size for o in self.objects.values()),
        }


def check_apart(a: ObjectStore, b: ObjectStore) -> None:
    """Refuse a backup target that is the source, or lies inside it (or it inside the target):
    a target under ``ns/`` would become a namespace of garbage keys, backed up into itself."""
    def where(store: ObjectStore) -> tuple[str, str]:
        meta = getattr(getattr(store, "client", None), "meta", None)
        return str(getattr(meta, "endpoint_url", "") or ""), store.url.rstrip("/") + "/"

    (end_a, url_a), (end_b, url_b) = where(a), where(b)
    if end_a == end_b and (url_a.startswith(url_b) or url_b.startswith(url_a)):
        raise InvalidInput(f"the backup location {b.url} overlaps the store {a.url}: use a separate bucket or prefix")


def new_backup_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(3)}"


def list_backups(target: ObjectStore) -> list[str]:
    """Ids of the complete backups in ``target`` (those with a manifest), oldest first."""
    return [info.key[len(BACKUPS):-len("/manifest.json")] for info in target.list(BACKUPS) if info.key.endswith("/manifest.json")]


def load_manifest(target: ObjectStore, backup_id: str | None = None) -> Manifest:
    """The named backup's manifest, or the newest one. NotFoundError when there is none."""
    if backup_id is None:
        ids = list_backups(target)
        if not ids:
            raise NotFoundError(f"no backup in {target.url}")
        backup_id = ids[-1]
    if not backup_id or "/" in backup_id or backup_id.startswith("."):
        raise NotFoundError(f"no backup {backup_id!r} in {target.url}")
    try:
        return Manifest.from_json(target.get(f"{BACKUPS}{backup_id}/manifest.json").body)
    except NotFound:
        raise NotFoundError(f"no backup {backup_id!r} in {target.url}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # damaged or hand-edited
        raise BackupUnusable(f"backup {backup_id!r} has an unreadable manifest: {type(exc).__name__}: {exc}") from None


class ObjectsView:
    """The target's ``objects/`` area as a store with the source's key layout (for replicas).

    ``moved`` (from ``Manifest.moved``) sends the keys one manifest stored elsewhere to their
    copies. Delegates to the target, so a copy out of it is still server-side where the target's is.
    """

    def __init__(self, root: ObjectStore, moved: dict[str, str] | None = None) -> None:
        self.root = root
        self.moved = moved or {}
        self.url = root.url.rstrip("/") + "/" + OBJECTS.rstrip("/")

    def _at(self, key: str) -> str:
        return self.moved.get(key) or OBJECTS + key

    def get(self, key: str, *, if_none_match: str | None = None) -> GetResult:
        return self.root.get(self._at(key), if_none_match=if_none_match)

    def head(self, key: str) -> ObjectInfo:
        info = self.root.head(self._at(key))
        return ObjectInfo(key=key, size=info.size, etag=info.etag, last_modified=info.last_modified)

    def put(self, key: str, body: bytes, condition: PutCondition | None = None) -> str:
        return self.root.put(OBJECTS + key, body, condition)

    def list(self, prefix: str, *, start_after: str | None = None, limit: int | None = None):
        after = OBJECTS + start_after if start_after else None
        for info in self.root.list(OBJECTS + prefix, start_after=after, limit=limit):
            yield ObjectInfo(key=info.key[len(OBJECTS):], size=info.size, etag=info.etag, last_modified=info.last_modified)

    def delete(self, key: str) -> None:
        self.root.delete(OBJECTS + key)

    def copy(self, src_key: str, dst_key: str, *, dst: ObjectStore | None = None) -> None:
        if dst is None or dst is self:
            self.root.copy(self._at(src_key), OBJECTS + dst_key)
        else:
            self.root.copy(self._at(src_key), dst_key, dst=dst)
