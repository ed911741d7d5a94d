"""Commands on who may read what: apps (pause/resume), access rules, and categories (in use and
user-defined). Each is options, one ``ops`` call, JSON on stdout; ``ops`` is imported when a command
runs, so ``--help`` stays light."""

from __future__ import annotations

import click

from .base import Runtime, emit, pass_rt, translate_errors

__all__ = ["COMMANDS"]


@click.group("apps")
def apps():
    """List, pause and resume apps (MCP clients).

    Example: membucket apps list
    """


@apps.command("list")
@pass_rt
@translate_errors
def apps_list(rt: Runtime):
    """List apps with their memory counts.

    Example: membucket apps list
    """
    from .. import ops

    emit(ops.list_apps(rt.ctx(owner=True)))


@apps.command("pause")
@click.argument("name")
@click.option("--create", is_flag=True, help="Pause an app that has not connected yet (refused on first contact).")
@pass_rt
@translate_errors
def apps_pause(rt: Runtime, name, create):
    """Pause an app: it can no longer read or write. An unknown name is not_found unless --create.

    Example: membucket apps pause cursor
    """
    from .. import ops

    emit(ops.set_app_paused(rt.ctx(owner=True), name, True, create=create))


@apps.command("resume")
@click.argument("name")
@pass_rt
@translate_errors
def apps_resume(rt: Runtime, name):
    """Resume a paused app.

    Example: membucket apps resume cursor
    """
    from .. import ops

    emit(ops.set_app_paused(rt.ctx(owner=True), name, False, create=False))


@click.group("rules")
def rules():
    """Allow/deny rules per app: all memories, one memory, or one category.

    Example: membucket rules add cursor deny --category health
    """


@rules.command("list")
@click.option("--for-app", "for_app", help="Only rules that apply to this app.")
@pass_rt
@translate_errors
def rules_list(rt: Runtime, for_app):
    """List access rules.

    Example: membucket rules list --for-app cursor
    """
    from .. import ops

    emit(ops.list_rules(rt.ctx(owner=True), app=for_app))


@rules.command("add")
@click.argument("app_name")
@click.argument("effect", type=click.Choice(["allow", "deny"]))
@click.option("--memory", "memory_id", help="Rule for one memory.")
@click.option("--category", help="Rule for one category.")
@pass_rt
@translate_errors
def rules_add(rt: Runtime, app_name, effect, memory_id, category):
    """Add a rule for APP_NAME ('*' for every app); without --memory/--category it covers all.

    Example: membucket rules add cursor deny --category health
    """
    from .. import ops

    if memory_id and category:
        raise click.UsageError("give --memory or --category, not both")
    scope, target = ("memory", memory_id) if memory_id else ("category", category) if category else ("all", None)
    emit(ops.add_rule(rt.ctx(owner=True), app_name, effect, scope, target))


@rules.command("delete")
@click.argument("rule_id")
@pass_rt
@translate_errors
def rules_delete(rt: Runtime, rule_id):
    """Delete a rule by id.

    Example: membucket rules delete 0c5e...
    """
    from .. import ops

    ops.delete_rule(rt.ctx(owner=True), rule_id)
    emit({"deleted": rule_id})


@click.command("categories")
@pass_rt
@translate_errors
def categories(rt: Runtime):
    """Categories in use, with counts.

    Example: membucket categories
    """
    from .. import ops

    emit(ops.list_categories(rt.ctx(owner=True)))


@click.group("category")
def category():
    """User-defined categories (a name and a description) the categorizer may assign.

    Example: membucket category list
    """


@category.command("define")
@click.argument("name")
@click.argument("description")
@pass_rt
@translate_errors
def category_define(rt: Runtime, name, description):
    """Define NAME (or replace its description); new writes and recategorize may assign it.

    Example: membucket category define gardening "Plants, vegetable beds, compost and garden tools"
    """
    from .. import ops

    emit(ops.define_category(rt.ctx(owner=True), name, description))


@category.command("delete")
@click.argument("name")
@pass_rt
@translate_errors
def category_delete(rt: Runtime, name):
    """Forget a definition (memories keep the category).

    Example: membucket category delete gardening
    """
    from .. import ops

    ops.delete_category(rt.ctx(owner=True), name)
    emit({"deleted": name})


@category.command("list")
@pass_rt
@translate_errors
def category_list(rt: Runtime):
    """User-defined categories with their descriptions.

    Example: membucket category list
    """
    from .. import ops

    emit(ops.list_category_defs(rt.ctx(owner=True)))


COMMANDS = [apps, rules, categories, category]
