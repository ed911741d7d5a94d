"""Check a backup: every object it lists is there with its checksum, and every namespace replays.

Reads every object once (sha256 against the manifest), then replays each namespace from the
backup alone, in a fresh cache so nothing downloaded earlier from the source can stand in for
a damaged copy, and checks that it reaches exactly its recorded sequence.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..store import NotFound, ObjectStore
from .manifest import ObjectsView, load_manifest
from .plan import plan_restore, replay

__all__ = ["VerifyReport", "verify_backup"]


@dataclass
class VerifyReport:
    backup: str
    objects: int = 0
    namespaces: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    replay_failed: dict[str, str] = field(default_factory=dict)  # user -> reason

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt or self.replay_failed)


def verify_backup(
    backup: ObjectStore,
    *,
    backup_id: str | None = None,
    cache_dir: Path | str | None = None,
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Verify the named (default: newest) backup in the target ``backup``.

    Example: ``verify_backup(open_store("s3://bak/mb")).ok``
    """
    manifest = load_manifest(backup, backup_id)
    objects = ObjectsView(backup, manifest.moved())
    report = VerifyReport(backup=manifest.id, objects=len(manifest.objects), namespaces=len(manifest.namespaces))

    def check(item):
        key, rec = item
        try:
            body = backup.get(key).body
        except NotFound:
            return key, "missing"
        return key, None if len(body) == rec.size and hashlib.sha256(body).hexdigest() == rec.sha256 else "corrupt"

    with ThreadPoolExecutor(max(1, workers)) as pool:
        for key, problem in pool.map(check, sorted(manifest.objects.items())):
            if problem == "missing":
                report.missing.append(key)
            elif problem == "corrupt":
                report.corrupt.append(key)
    total = len(manifest.namespaces)
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="verify-", dir=cache_dir) as tmp:
        for i, (user, rec) in enumerate(sorted(manifest.namespaces.items())):
            try:
                replay(objects, plan_restore(user, rec), Path(tmp) / str(i))
            except Exception as exc:  # any failure to replay is a finding, not a crash
                report.replay_failed[user] = f"{type(exc).__name__}: {exc}"
            if progress is not None:
                progress(i + 1, total)
    return report
