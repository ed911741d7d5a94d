"""User-defined categories: a name and a short description, kept in the namespace's log.

The categorizer scores them next to the default taxonomy (a definition with a default name
replaces that default's prototype texts). Managing them is an owner/admin operation: an
app-bound caller is refused when paused or denied everything, as for rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from ..engine import queries
from ..engine.namespace import Plan
from ..engine.operations import CategoryDefine, CategoryDelete
from ..errors import Conflict, InvalidInput, NotFoundError, TooLarge
from .access import check_app
from .context import Context
from .models import iso
from .validate import CATEGORY_DESCRIPTION_MAX, clean_categories

__all__ = ["CategoryDefinition", "define_category", "delete_category", "list_category_defs", "custom_defs",
           "MAX_DEFINED", "MAX_DESCRIPTION"]

MAX_DEFINED = 100  # definitions per namespace: each one is scored on every write
MAX_DESCRIPTION = CATEGORY_DESCRIPTION_MAX  # in validate: the API's schema names it without importing the engine


@dataclass
class CategoryDefinition:
    name: str
    description: str
    created_at: str
    updated_at: str

    def to_dict(self) -> dict:
        return asdict(self)


def custom_defs(rep) -> tuple:
    """The namespace's definitions as ``CategoryDef`` (the rows are memoized until the replica changes)."""
    from ..categorize.zeroshot import CategoryDef

    return tuple(CategoryDef(n, d) for n, d in queries.category_defs(rep))


def _clean(ctx: Context, name: str | Iterable[Any] | None) -> str:
    names = clean_categories([name] if isinstance(name, str) else name, ctx.settings)
    if len(names) != 1:
        raise InvalidInput("give exactly one category name")
    return names[0]


def define_category(ctx: Context, name: str, description: str) -> CategoryDefinition:
    """Create a category, or replace its description."""
    name = _clean(ctx, name)
    if not isinstance(description, str) or not description.strip():
        raise InvalidInput("description must be a non-empty string: what belongs in this category")
    if "\x00" in description:
        raise InvalidInput("description must not contain NUL characters")
    description = " ".join(description.split())
    if len(description) > MAX_DESCRIPTION:
        raise TooLarge(f"description is {len(description)} characters; the limit is {MAX_DESCRIPTION}", limit=MAX_DESCRIPTION)

    def build(rep) -> Plan:
        check_app(rep, ctx.app, write=True)
        known = {d.name for d in custom_defs(rep)}
        if name not in known and len(known) >= MAX_DEFINED:
            raise TooLarge(f"{len(known)} categories are defined; the limit is {MAX_DEFINED}", limit=MAX_DEFINED)
        return Plan([CategoryDefine(name=name, description=description)], None)

    ctx.ns.commit(build, actor=ctx.who)
    found = next((d for d in list_category_defs(ctx) if d.name == name), None)
    if found is None:  # deleted by another writer between our commit and this read
        raise Conflict(f"category {name!r} was deleted while it was being defined; define it again", name=name)
    return found


def delete_category(ctx: Context, name: str) -> None:
    """Forget a definition; memories keep the category name they were given."""
    name = _clean(ctx, name)

    def build(rep) -> Plan:
        check_app(rep, ctx.app, write=True)
        if name not in {d.name for d in custom_defs(rep)}:
            raise NotFoundError(f"category {name!r} is not defined", name=name)
        return Plan([CategoryDelete(name=name)], None)

    ctx.ns.commit(build, actor=ctx.who)


def list_category_defs(ctx: Context) -> list[CategoryDefinition]:
    with ctx.ns.read() as rep:
        check_app(rep, ctx.app)
        rows = queries.category_def_rows(rep)
    return [CategoryDefinition(r[0], r[1], iso(r[2]), iso(r[3])) for r in rows]
