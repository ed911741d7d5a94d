"""The operations every surface (CLI, REST, MCP, Lambda) calls; nothing else touches the engine."""

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
