"""The operations every surface (CLI, REST, MCP, Lambda) calls; nothing else touches the engine.

Names are imported on first use (PEP 562): the surfaces import this package at start-up, and
most operations bring the engine (duckdb, faiss, numpy), which a Lambda container answering an
MCP ``initialize`` or a health check never needs (issue 13, cold start).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .access import check_caller, ensure_app
    from .add import NewMemory, add, add_batch
    from .apps import add_rule, delete_rule, get_app, list_apps, list_rules, set_app_paused
    from .categorize import recategorize
    from .category_defs import define_category, delete_category, list_category_defs
    from .context import Context
    from .export import ExportFilters, bundle_filename, export_bundle
    from .filters import Filters
    from .importer import ImportResult, import_bundle
    from .memories import get, history, list_memories, related, update
    from .openmemory_db import import_openmemory_db
    from .search import search, search_vector
    from .state import change_state, delete, delete_all
    from .stats import access_log, list_categories, stats
    from .system import public_config, readiness

_WHERE = {
    "check_caller": "access",
    "ensure_app": "access",
    "NewMemory": "add",
    "add": "add",
    "add_batch": "add",
    "add_rule": "apps",
    "delete_rule": "apps",
    "get_app": "apps",
    "list_apps": "apps",
    "list_rules": "apps",
    "set_app_paused": "apps",
    "recategorize": "categorize",
    "define_category": "category_defs",
    "delete_category": "category_defs",
    "list_category_defs": "category_defs",
    "Context": "context",
    "ExportFilters": "export",
    "bundle_filename": "export",
    "export_bundle": "export",
    "Filters": "filters",
    "ImportResult": "importer",
    "import_bundle": "importer",
    "get": "memories",
    "history": "memories",
    "list_memories": "memories",
    "related": "memories",
    "update": "memories",
    "import_openmemory_db": "openmemory_db",
    "search": "search",
    "search_vector": "search",
    "change_state": "state",
    "delete": "state",
    "delete_all": "state",
    "access_log": "stats",
    "list_categories": "stats",
    "stats": "stats",
    "public_config": "system",
    "readiness": "system",
}

__all__ = [
    "Context", "Filters", "NewMemory",
    "add", "add_batch", "search", "search_vector", "list_memories", "get", "update", "history", "related",
    "change_state", "delete", "delete_all",
    "list_apps", "get_app", "set_app_paused", "list_rules", "add_rule", "delete_rule",
    "stats", "list_categories", "access_log", "ensure_app", "check_caller",
    "readiness", "public_config",
    "recategorize", "define_category", "delete_category", "list_category_defs",
    "export_bundle", "import_bundle", "import_openmemory_db", "ExportFilters", "ImportResult", "bundle_filename",
]


class _Ops(types.ModuleType):
    """Keeps ``ops.add``, ``ops.search`` and ``ops.stats`` the functions once their submodules load.

    Importing a submodule sets it as an attribute of its package; the eager imports this module
    used to make then re-bound the function of the same name. Loading lazily, that re-binding
    happens here instead.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _WHERE.get(name) == name and value.__name__ == f"{__name__}.{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Ops


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
