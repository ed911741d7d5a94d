"""Bring an OpenMemory install's memories over from its SQLite database, without its server.

The database is read by ``migrate.openmemory_db`` into the document OpenMemory's export zip
holds, so the mapping, the validation and the single-commit import are the export import's
(``bundle.openmemory_bundle`` and ``importer.import_opened``). The access log is not imported
(as with a membucket bundle); the text is embedded again with the current embedder.
"""

from __future__ import annotations

from pathlib import Path

from ..migrate.openmemory_db import read_openmemory_db
from .bundle import openmemory_bundle
from .context import Context
from .export import Progress
from .importer import ImportResult, import_opened

__all__ = ["import_openmemory_db"]


def import_openmemory_db(ctx: Context, path: str | Path, *, user: str | None = None, mode: str = "merge",
                         progress: Progress | None = None) -> ImportResult:
    """Import one OpenMemory user's memories into the caller's namespace, as the export import would."""
    bundle = openmemory_bundle(read_openmemory_db(path, user), ctx.settings)
    return import_opened(ctx, bundle, mode=mode, progress=progress)
