"""State changes (pause, archive, resume, delete), single and bulk, all-or-nothing.

    active   -> paused, archived, deleted
    paused   -> active, archived, deleted
    archived -> active, deleted
    deleted  -> (terminal)

A bulk request is validated whole before anything is written: one unknown id or one illegal
transition refuses the batch. Memories already in the target state are reported unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..engine import queries
from ..engine.namespace import Plan
from ..engine.operations import MemoryState, Operation
from ..errors import IllegalTransition, NotFoundError
from .access import check_app
from .context import Context
from .filters import Filters
from .memories import APP_STATES
from .models import StateChange
from .validate import clean_ids, clean_state

__all__ = ["change_state", "delete", "delete_all", "TRANSITIONS"]

TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"paused", "archived", "deleted"}),
    "paused": frozenset({"active", "archived", "deleted"}),
    "archived": frozenset({"active", "deleted"}),
    "deleted": frozenset(),
}


def change_state(ctx: Context, memory_ids: Sequence[str], to: str) -> StateChange:
    ids = clean_ids(list(memory_ids) if not isinstance(memory_ids, str) else memory_ids, ctx.settings)
    to = clean_state(to)

    def build(rep) -> Plan:
        vis = check_app(rep, ctx.app, write=True)
        rows = queries.memory_states(rep, ids)
        missing = [
            i for i in ids
            if i not in rows or (ctx.app is not None and (rows[i][0] not in APP_STATES or not vis.allows_row(rep, i, rows[i][1])))
        ]
        if missing:
            raise NotFoundError(f"{len(missing)} memory id(s) not found: {', '.join(missing[:5])}", ids=missing[:50])
        illegal = [i for i in ids if rows[i][0] != to and to not in TRANSITIONS[rows[i][0]]]
        if illegal:
            raise IllegalTransition(
                f"cannot move {rows[illegal[0]][0]} memory {illegal[0]} to {to}"
                + (f" (and {len(illegal) - 1} more)" if len(illegal) > 1 else ""),
                ids=illegal[:50],
            )
        result = StateChange(state=to)
        for i in ids:
            (result.unchanged if rows[i][0] == to else result.changed).append(i)
        ops: list[Operation] = [MemoryState(ids=result.changed, state=to)] if result.changed else []
        return Plan(ops, result)

    return ctx.ns.commit(build, actor=ctx.who)


def delete(ctx: Context, memory_ids: Sequence[str]) -> StateChange:
    return change_state(ctx, memory_ids, "deleted")


def delete_all(ctx: Context, filters: Filters | None = None) -> StateChange:
    """Delete every memory the caller can see (matching ``filters``), in one commit."""
    filters = filters or Filters()

    def build(rep) -> Plan:
        vis = check_app(rep, ctx.app, write=True)
        states = list(APP_STATES) if ctx.app is not None else (filters.states or ["active", "paused", "archived"])
        ids = queries.visible_ids(rep, Filters(**{**filters.__dict__, "states": states}), vis)
        result = StateChange(state="deleted", changed=ids)
        return Plan([MemoryState(ids=ids, state="deleted")] if ids else [], result)

    return ctx.ns.commit(build, actor=ctx.who)
