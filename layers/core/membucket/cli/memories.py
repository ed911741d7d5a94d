"""Commands on memories: add, search, list, get, update, state, delete, history, related, stats,
access-log. Each is options, one ``ops`` call, JSON on stdout; ``ops`` (the engine, DuckDB, the
model) is imported when a command runs, so ``--help`` stays light."""

from __future__ import annotations

import click

from .base import Runtime, emit, pass_rt, translate_errors

__all__ = ["COMMANDS"]

STATES = ["active", "paused", "archived", "deleted"]


@click.command("add")
@click.argument("text")
@click.option("--metadata", help="JSON object stored with the memory.")
@click.option("--category", "categories", multiple=True, help="Category (repeatable).")
@click.option("--infer", is_flag=True, help="Extract facts with the configured LLM (verbatim without one).")
@click.option("--no-dedupe", is_flag=True, help="Always add, even if an equal memory exists.")
@pass_rt
@translate_errors
def add(rt: Runtime, text, metadata, categories, infer, no_dedupe):
    """Add a memory; prints the resulting id(s) and event (ADD, UPDATE or NOOP); an ADD beside near duplicates lists them in ``similar``.

    Example: membucket add "Alice is allergic to peanuts" --category health
    """
    from .. import ops

    emit(ops.add(rt.ctx(), text, metadata=metadata, categories=list(categories) or None, infer=infer, dedupe=not no_dedupe))


@click.command("search")
@click.argument("query")
@click.option("--limit", default=10, show_default=True, help="Most results.")
@click.option("--threshold", type=float, help="Lowest score returned.")
@click.option("--app", "apps", multiple=True, help="Only memories created by this app (repeatable).")
@click.option("--category", "categories", multiple=True, help="Only memories with this category (repeatable).")
@click.option("--mode", type=click.Choice(["dense", "lexical", "hybrid"]), default=None, help="Ranking: embeddings, words (BM25) or both. Default: hybrid.")
@pass_rt
@translate_errors
def search(rt: Runtime, query, limit, threshold, apps, categories, mode):
    """Search (hybrid: meaning + words, by default); prints [{id, text, score, categories, created_at}].

    Example: membucket search "what is Alice allergic to" --limit 3
    """
    from .. import ops

    hits = ops.search(rt.ctx(), query, limit=limit, threshold=threshold, filters=ops.Filters(apps=list(apps), categories=list(categories)), mode=mode)
    emit([{"id": h.id, "text": h.text, "score": h.score, "categories": h.categories, "created_at": h.created_at} for h in hits])


@click.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES), help="State (repeatable). Default: all but deleted.")
@click.option("--app", "apps", multiple=True, help="Only memories created by this app.")
@click.option("--category", "categories", multiple=True, help="Only memories with this category.")
@click.option("--text", help="Only memories containing this text.")
@click.option("--sort", default="created_at", show_default=True, type=click.Choice(["created_at", "updated_at", "text", "app", "state"]))
@click.option("--order", default="desc", show_default=True, type=click.Choice(["asc", "desc"]))
@click.option("--page", default=1, show_default=True)
@click.option("--size", default=50, show_default=True)
@click.option("--cursor", help="next_cursor from the previous page.")
@pass_rt
@translate_errors
def list_(rt: Runtime, states, apps, categories, text, sort, order, page, size, cursor):
    """List memories as the owner sees them, a page at a time.

    Example: membucket list --state paused --size 20
    """
    from .. import ops

    filters = ops.Filters(states=list(states), apps=list(apps), categories=list(categories), text=text)
    emit(ops.list_memories(rt.ctx(owner=True), filters=filters, sort=sort, order=order, page=page, size=size, cursor=cursor))


@click.command("get")
@click.argument("memory_id")
@pass_rt
@translate_errors
def get(rt: Runtime, memory_id):
    """Show one memory.

    Example: membucket get 6f1c...
    """
    from .. import ops

    emit(ops.get(rt.ctx(owner=True), memory_id))


@click.command("update")
@click.argument("memory_id")
@click.option("--text", help="New text (re-embedded).")
@click.option("--metadata", help="New metadata JSON object.")
@click.option("--category", "categories", multiple=True, help="New categories (repeatable).")
@pass_rt
@translate_errors
def update(rt: Runtime, memory_id, text, metadata, categories):
    """Edit a memory's text, metadata or categories.

    Example: membucket update 6f1c... --text "Alice is allergic to peanuts and shellfish"
    """
    from .. import ops

    emit(ops.update(rt.ctx(owner=True), memory_id, text=text, metadata=metadata, categories=list(categories) or None))


@click.command("state")
@click.argument("memory_ids", nargs=-1, required=True)
@click.option("--to", "to", required=True, type=click.Choice(STATES), help="Target state.")
@pass_rt
@translate_errors
def state(rt: Runtime, memory_ids, to):
    """Change the state of one or more memories (all or nothing).

    Example: membucket state 6f1c... 9a2b... --to archived
    """
    from .. import ops

    emit(ops.change_state(rt.ctx(owner=True), list(memory_ids), to))


@click.command("delete")
@click.argument("memory_ids", nargs=-1, required=True)
@pass_rt
@translate_errors
def delete(rt: Runtime, memory_ids):
    """Delete memories (state 'deleted'; gone from search and listings).

    Example: membucket delete 6f1c...
    """
    from .. import ops

    emit(ops.delete(rt.ctx(owner=True), list(memory_ids)))


@click.command("delete-all")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_rt
@translate_errors
def delete_all(rt: Runtime, yes):
    """Delete every memory of the user.

    Example: membucket delete-all --yes
    """
    from .. import ops

    if not yes:
        click.confirm(f"Delete every memory of user {rt.settings.user!r}?", abort=True)
    emit(ops.delete_all(rt.ctx(owner=True)))


@click.command("history")
@click.argument("memory_id")
@pass_rt
@translate_errors
def history(rt: Runtime, memory_id):
    """Show a memory's history: adds, edits and state changes with actor and time.

    Example: membucket history 6f1c...
    """
    from .. import ops

    emit(ops.history(rt.ctx(owner=True), memory_id))


@click.command("related")
@click.argument("memory_id")
@click.option("--limit", default=5, show_default=True)
@pass_rt
@translate_errors
def related(rt: Runtime, memory_id, limit):
    """Show the memories most similar to one memory.

    Example: membucket related 6f1c... --limit 3
    """
    from .. import ops

    emit(ops.related(rt.ctx(owner=True), memory_id, limit=limit))


@click.command("stats")
@pass_rt
@translate_errors
def stats(rt: Runtime):
    """Counts by state, app and category, and the log position.

    Example: membucket stats
    """
    from .. import ops

    emit(ops.stats(rt.ctx(owner=True)))


@click.command("access-log")
@click.option("--memory", "memory_id", help="Only reads of this memory.")
@click.option("--for-app", "for_app", help="Only reads by this app.")
@click.option("--limit", default=100, show_default=True)
@pass_rt
@translate_errors
def access_log(rt: Runtime, memory_id, for_app, limit):
    """Show which app read which memory, newest first.

    Example: membucket access-log --for-app cursor
    """
    from .. import ops

    emit(ops.access_log(rt.ctx(owner=True), memory_id=memory_id, app=for_app, limit=limit))


COMMANDS = [add, search, list_, get, update, state, delete, delete_all, history, related, stats, access_log]
