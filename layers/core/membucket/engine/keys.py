"""One user's key layout in the bucket; the only place a user id becomes a key.

    ns/<user>/log/<seq:020d>.json          one committed entry, immutable
    ns/<user>/checkpoints/<seq:020d>-<tag>/manifest.json   formats 2-3: names segments (engine/segments.py)
    ns/<user>/checkpoints/<seq:020d>-<tag>/db.duckdb | index.faiss | meta.json   format 1 (still loads)
    ns/<user>/segments/<sha256>.parquet    content-addressed table segments, shared by checkpoints
    ns/<user>/CHECKPOINT                   pointer to the newest checkpoint (moved with If-Match)
    ns/<user>/compaction/<base:020d>.json  claim: who replaces the checkpoint at <base> (engine/claims.py)
    ns/<user>/access/<time>-<uuid>.json    access-log records, append-only, never contended
    ns/<user>/reindex/<target>/parts/<sha256>.bin     re-embedded vectors of one batch (resumable)
    ns/<user>/reindex/<target>/vectors/<sha256>.bin   every vector as of one sequence (embedder.switch)
    ns/<user>/reindex/<target>/progress.json          counts, and the switch's sequence once done
    ns/<user>/blobs/<sha256>.bin           bulk-import parts a log entry names (engine/blobs.py)
    ns/<user>/preferences.json             UI preferences

Code elsewhere asks this module what a key means (``user_of``, ``checkpoint_dir_of``, ...)
rather than splitting keys itself.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InvalidAppName, InvalidId, InvalidUserId

if TYPE_CHECKING:  # pragma: no cover
    from ..store import ObjectStore

__all__ = [
    "NamespaceKeys", "validate_user_id", "validate_app_name", "validate_memory_id", "SEQ_WIDTH",
    "NAMESPACES_PREFIX", "user_of", "list_users",
]

SEQ_WIDTH = 20
NAMESPACES_PREFIX = "ns/"  # every user's namespace lives under it
MAX_USER_ID = 128
MAX_APP_NAME = 64
_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
_APP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ +-]*$")


def validate_user_id(user_id: object) -> str:
    """Letters, digits and ``._@+-``; no slashes, no ``..``, at most 128 characters."""
    if not isinstance(user_id, str) or not user_id or len(user_id) > MAX_USER_ID:
        raise InvalidUserId(f"user id must be 1-{MAX_USER_ID} characters", user_id=str(user_id)[:200])
    if not _USER_RE.match(user_id) or ".." in user_id:
        raise InvalidUserId(
            "user id may contain only letters, digits and . _ @ + - (no slashes or '..')", user_id=user_id[:200]
        )
    return user_id


def validate_app_name(app: object) -> str:
    """A client name such as 'claude', 'cursor' or 'VS Code'; no slashes or control characters."""
    if not isinstance(app, str) or not app or len(app) > MAX_APP_NAME:
        raise InvalidAppName(f"app name must be 1-{MAX_APP_NAME} characters", app=str(app)[:200])
    if not _APP_RE.match(app) or ".." in app or app != app.strip():
        raise InvalidAppName("app name may contain only letters, digits, spaces and . _ + -", app=app[:200])
    return app


def validate_memory_id(memory_id: object) -> str:
    """Memory ids are UUIDs; return the canonical lowercase form."""
    try:
        return str(uuid.UUID(str(memory_id)))
    except (ValueError, TypeError, AttributeError):
        raise InvalidId(f"not a valid memory id: {str(memory_id)[:80]!r}", id=str(memory_id)[:80]) from None


def user_of(key: str) -> str | None:
    """The user whose namespace holds ``key`` (``ns/<user>/...``), else None."""
    if not key.startswith(NAMESPACES_PREFIX):
        return None
    user, sep, _ = key[len(NAMESPACES_PREFIX):].partition("/")
    return user if sep and user else None


def list_users(store: ObjectStore) -> list[str]:
    """Every user with objects in ``store`` (a LIST of ``ns/``; keys come back sorted)."""
    seen: list[str] = []
    for info in store.list(NAMESPACES_PREFIX):
        user = user_of(info.key)
        if user is not None and (not seen or seen[-1] != user):
            seen.append(user)
    return seen


def _sha256_name(name: str) -> str | None:
    """The digest of a ``<sha256>.bin`` file name, else None."""
    if name.endswith(".bin") and len(name) == 68 and all(c in "0123456789abcdef" for c in name[:64]):
        return name[:64]
    return None


@dataclass(frozen=True)
class NamespaceKeys:
    user: str

    def __post_init__(self) -> None:
        validate_user_id(self.user)

    @property
    def root(self) -> str:
        return f"ns/{self.user}/"

    @property
    def log_prefix(self) -> str:
        return f"{self.root}log/"

    def log(self, seq: int) -> str:
        return f"{self.log_prefix}{seq:0{SEQ_WIDTH}d}.json"

    def seq_of_log(self, key: str) -> int | None:
        name = key.rsplit("/", 1)[-1]
        if not name.endswith(".json") or len(name) != SEQ_WIDTH + 5 or not name[:SEQ_WIDTH].isdigit():
            return None
        return int(name[:SEQ_WIDTH])

    @property
    def pointer(self) -> str:
        return f"{self.root}CHECKPOINT"

    @property
    def checkpoints_prefix(self) -> str:
        return f"{self.root}checkpoints/"

    def checkpoint_dir(self, seq: int, tag: str) -> str:
        return f"{self.checkpoints_prefix}{seq:0{SEQ_WIDTH}d}-{tag}/"

    def checkpoint_dir_of(self, key: str) -> tuple[str, str]:
        """(checkpoint directory, file name) of a key under ``checkpoints/``."""
        d, _, name = key.rpartition("/")
        return d + "/", name

    @staticmethod
    def seq_of_checkpoint_dir(ckpt_dir: str) -> int | None:
        """The sequence a checkpoint directory (``<seq>-<tag>/``) holds, else None."""
        name = ckpt_dir.rstrip("/").rsplit("/", 1)[-1]
        try:
            return int(name.split("-", 1)[0])
        except ValueError:
            return None

    @property
    def segments_prefix(self) -> str:
        return f"{self.root}segments/"

    def segment(self, sha256: str) -> str:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256[:80]!r}")
        return f"{self.segments_prefix}{sha256}.parquet"

    def segment_sha256(self, key: str) -> str | None:
        """The digest of a key under ``segments/``, else None."""
        name = key.rsplit("/", 1)[-1]
        if not key.startswith(self.segments_prefix) or not name.endswith(".parquet") or len(name) != 72:
            return None
        return name[:64] if all(c in "0123456789abcdef" for c in name[:64]) else None

    @property
    def compaction_prefix(self) -> str:
        return f"{self.root}compaction/"

    def compaction_claim(self, base_seq: int) -> str:
        """The claim on replacing the checkpoint at ``base_seq`` (0: none yet)."""
        return f"{self.compaction_prefix}{base_seq:0{SEQ_WIDTH}d}.json"

    def seq_of_claim(self, key: str) -> int | None:
        name = key.rsplit("/", 1)[-1]
        if not key.startswith(self.compaction_prefix) or not name.endswith(".json") or not name[:-5].isdigit():
            return None
        return int(name[:-5])

    @property
    def access_prefix(self) -> str:
        return f"{self.root}access/"

    @property
    def preferences(self) -> str:
        """The user's UI preferences (ops/preferences.py): the one small object changed in place."""
        return f"{self.root}preferences.json"

    # -- reindex (re-embedding into another model; see engine/reindex.py) -------------------
    @property
    def reindex_prefix(self) -> str:
        return f"{self.root}reindex/"

    def reindex_dir(self, embedder: str, dim: int) -> str:
        """One directory per target (embedder id, dimension): readable, and safe whatever the id holds."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", embedder).strip("._")[:60] or "embedder"
        digest = hashlib.sha256(f"{embedder}\n{dim}".encode()).hexdigest()[:12]
        return f"{self.reindex_prefix}{slug}-{dim}-{digest}/"

    def reindex_part(self, target_dir: str, sha256: str) -> str:
        return f"{target_dir}parts/{sha256}.bin"

    def reindex_vectors(self, target_dir: str, sha256: str) -> str:
        return f"{target_dir}vectors/{sha256}.bin"

    def reindex_progress(self, target_dir: str) -> str:
        return f"{target_dir}progress.json"
    @property
    def blobs_prefix(self) -> str:
        return f"{self.root}blobs/"

    def side_sha256(self, key: str) -> str | None:
        """The sha256 a side object's key names (``blobs/<sha>.bin``, ``reindex/<target>/vectors/<sha>.bin``), else None."""
        in_blobs = key.startswith(self.blobs_prefix)
        in_packs = key.startswith(self.reindex_prefix) and "/vectors/" in key[len(self.reindex_prefix):]
        return _sha256_name(key.rsplit("/", 1)[-1]) if in_blobs or in_packs else None

    def blob_sha256(self, key: str) -> str | None:
        """The digest of a key under ``blobs/``, else None."""
        return _sha256_name(key.rsplit("/", 1)[-1]) if key.startswith(self.blobs_prefix) else None

    def blob(self, sha256: str) -> str:
        """A content-addressed side object a log entry refers to (bulk import rows)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256[:80]!r}")
        return f"{self.blobs_prefix}{sha256}.bin"
