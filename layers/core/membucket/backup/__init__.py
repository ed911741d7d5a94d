"""Bucket-level backup and restore: every namespace and the token store, to another bucket or a directory.

Layout of a backup target and the manifest: ``manifest.py``. Taking a backup: ``take.py``.
Choosing a point and replaying it: ``plan.py``. Restoring: ``restore.py``. Checking: ``verify.py``.
``BackupTarget`` opens a target URL and its ``objects/`` area (the functions take the root).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store import ObjectStore, open_store
from .manifest import Manifest, ObjectsView, list_backups, load_manifest
from .plan import plan_restore, seq_at_time
from .restore import RestoreReport, restore
from .take import BackupReport, take_backup
from .verify import VerifyReport, verify_backup

__all__ = [
    "BackupTarget", "BackupReport", "RestoreReport", "VerifyReport", "Manifest",
    "take_backup", "restore", "verify_backup", "list_backups", "load_manifest", "plan_restore", "seq_at_time",
]


@dataclass(frozen=True)
class BackupTarget:
    """A backup location: ``root`` (manifests under ``backups/``) and ``objects`` (its ``objects/`` area)."""

    root: ObjectStore
    objects: ObjectStore

    @classmethod
    def open(cls, url: str, **store_options) -> BackupTarget:
        """Open a target from the same URL forms as ``MEMBUCKET_STORE`` (see ``store.url.open_store``)."""
        root = open_store(url, **store_options)
        return cls(root=root, objects=ObjectsView(root))
