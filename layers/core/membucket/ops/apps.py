"""Apps (one per client name) and their access rules; owner/admin operations.

Called as an app (an app-bound admin token), these still refuse a paused app (AppPaused) and,
for changes, a deny-all app (AccessDenied): fail closed, even for management.
"""

from __future__ import annotations

import uuid

from ..engine import queries
from ..engine.keys import validate_app_name, validate_memory_id
from ..engine.namespace import Plan
from ..engine.operations import AppState, AppUpsert, RuleAdd, RuleDelete
from ..errors import InvalidInput, NotFoundError, OwnerOnly
from .access import check_app
from .context import Context, app_name
from .models import App, Rule, iso
from .validate import clean_categories

__all__ = ["list_apps", "get_app", "set_app_paused", "list_rules", "add_rule", "delete_rule", "EFFECTS", "SCOPES"]

EFFECTS = ("allow", "deny")
SCOPES = ("all", "memory", "category")

def list_apps(ctx: Context) -> list[App]:
    with ctx.ns.read() as rep:
        check_app(rep, ctx.app)
        rows = queries.apps(rep)
    return [App(name=r[0], paused=bool(r[1]), created_at=iso(r[2]), updated_at=iso(r[3]), memories=int(r[4])) for r in rows]


def get_app(ctx: Context, name: str) -> App:
    return _get_app(ctx, validate_app_name(name), check=True)


def _get_app(ctx: Context, name: str, *, check: bool) -> App:
    with ctx.ns.read() as rep:
        if check:
            check_app(rep, ctx.app)
        found = queries.apps(rep, name)
    if not found:
        raise NotFoundError(f"app {name!r} not found", app=name)
    r = found[0]
    return App(name=r[0], paused=bool(r[1]), created_at=iso(r[2]), updated_at=iso(r[3]), memories=int(r[4]))


def require_owner(ctx: Context, what: str) -> None:
    """Rules and pause state restrict apps: an app-bound caller, whatever its scopes, may not change them."""
    if ctx.app is not None:
        raise OwnerOnly(f"only the owner (a token not bound to an app) may {what}; this caller is app {ctx.app!r}",
                        app=ctx.app)


def set_app_paused(ctx: Context, name: str, paused: bool, *, create: bool = True) -> App:
    """Pause (or resume) an app: a paused app can neither read nor write. Creates the app if new
    (pausing one before it first connects), unless ``create`` is false: then an unknown name is
    NotFoundError (the CLI, where it is most likely a typo)."""
    name = app_name(name)

    def build(rep) -> Plan | None:
        check_app(rep, ctx.app, write=True)  # a paused or deny-all app hears that first
        require_owner(ctx, "pause or resume apps")
        now = queries.app_paused(rep, name)
        if now is None and not create:
            raise NotFoundError(f"app {name!r} not found (apps list shows the known ones)", app=name)
        if now is not None and now == paused:
            return None
        return Plan([AppState(name=name, paused=bool(paused))])

    ctx.ns.commit(build, actor=ctx.who)
    return _get_app(ctx, name, check=False)


def list_rules(ctx: Context, app: str | None = None) -> list[Rule]:
    if app is not None and app != "*":
        app = validate_app_name(app)
    with ctx.ns.read() as rep:
        check_app(rep, ctx.app)
        rows = queries.rules(rep, app)
    return [Rule(id=r[0], app=r[1], effect=r[2], scope=r[3], target=r[4], created_at=iso(r[5])) for r in rows]


def add_rule(ctx: Context, app: str, effect: str, scope: str = "all", target: str | None = None) -> Rule:
    """Allow or deny ``app`` (or ``'*'``: every app) all memories, one memory, or one category."""
    if app != "*":
        app = app_name(app)
    if effect not in EFFECTS:
        raise InvalidInput(f"effect must be one of {', '.join(EFFECTS)}")
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}")
    if scope == "all":
        target = None
    elif scope == "memory":
        target = validate_memory_id(target)
    else:
        cats = clean_categories([target] if target else [], ctx.settings)
        if not cats:
            raise InvalidInput("a category rule needs a category name as target")
        target = cats[0]
    rule_id = str(uuid.uuid4())

    def build(rep) -> Plan:
        check_app(rep, ctx.app, write=True)  # a paused or deny-all app hears that first
        require_owner(ctx, "add access rules")
        same = queries.same_rule(rep, app, effect, scope, target)
        if same is not None:
            return Plan([], same)
        ops = []
        if app != "*" and not queries.app_exists_now(rep, app):
            ops.append(AppUpsert(name=app))
        return Plan(ops + [RuleAdd(id=rule_id, app=app, effect=effect, scope=scope, target=target)], rule_id)

    rid = ctx.ns.commit(build, actor=ctx.who)
    return next(r for r in list_rules(ctx) if r.id == rid)


def delete_rule(ctx: Context, rule_id: str) -> None:
    rule_id = validate_memory_id(rule_id)

    def build(rep) -> Plan:
        check_app(rep, ctx.app, write=True)  # a paused or deny-all app hears that first
        require_owner(ctx, "delete access rules")
        if not queries.rule_exists(rep, rule_id):
            raise NotFoundError(f"rule {rule_id} not found", id=rule_id)
        return Plan([RuleDelete(id=rule_id)])

    ctx.ns.commit(build, actor=ctx.who)
