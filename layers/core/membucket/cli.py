"""The ``membucket`` command: each command is options, one library call, and error translation.

Data commands print JSON on stdout. Errors exit non-zero with one line on stderr
(``code: message``, or a JSON object with ``--json``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys
from typing import Any, Callable

import click

from .client import Membucket
from .errors import MembucketError
from .settings import Settings
from .store import StoreError

__all__ = ["main", "cli"]


def _emit(data: Any) -> None:
    if hasattr(data, "to_dict"):
        data = data.to_dict()
    elif isinstance(data, list):
        data = [d.to_dict() if hasattr(d, "to_dict") else d for d in data]
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


class CliError(click.ClickException):
    """A failure reported as ``code: message`` (or JSON with --json), exit status 1."""

    def __init__(self, code: str, message: str, as_json: bool) -> None:
        super().__init__(message)
        self.code, self.as_json = code, as_json

    def show(self, file=None) -> None:
        line = json.dumps({"error": {"code": self.code, "message": self.message}}) if self.as_json else f"error: {self.code}: {self.message}"
        click.echo(line, err=True)


def translate_errors(fn: Callable) -> Callable:
    """Turn library errors into one-line CLI errors (sqlite-utils style)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        as_json = click.get_current_context().find_root().params.get("as_json", False)
        try:
            return fn(*args, **kwargs)
        except MembucketError as exc:
            raise CliError(exc.code, exc.message, as_json) from exc
        except StoreError as exc:
            raise CliError("store_error", f"{type(exc).__name__}: {exc}", as_json) from exc
        except ValueError as exc:
            raise CliError("invalid_input", str(exc), as_json) from exc

    return wrapper


class Runtime:
    """What the root options resolve to; built lazily so --help never touches the store."""

    def __init__(self, overrides: dict[str, Any], as_json: bool) -> None:
        self.overrides = {k: v for k, v in overrides.items() if v is not None}
        self.as_json = as_json
        self._mb: Membucket | None = None

    @property
    def settings(self) -> Settings:
        return self.mb.settings

    @property
    def mb(self) -> Membucket:
        if self._mb is None:
            self._mb = Membucket(Settings(**self.overrides))
        return self._mb

    def ctx(self, owner: bool = False):
        return self.mb.context(self.settings.user, None if owner else self.settings.app)


pass_rt = click.make_pass_decorator(Runtime)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", envvar="MEMBUCKET_STORE", help="Bucket URL: a path, file:///abs/path or s3://bucket/prefix.")
@click.option("--endpoint-url", envvar="MEMBUCKET_ENDPOINT_URL", help="S3-compatible endpoint (MinIO, ...).")
@click.option("--region", envvar="MEMBUCKET_REGION", help="S3 region.")
@click.option("--profile", envvar="MEMBUCKET_PROFILE", help="AWS profile.")
@click.option("--user", envvar="MEMBUCKET_USER", help="User (namespace) id. Default: 'default'.")
@click.option("--app", "app", envvar="MEMBUCKET_APP", help="Acting app (client) name. Default: 'cli'.")
@click.option("--json", "as_json", is_flag=True, help="Errors as JSON on stderr.")
@click.version_option(package_name="membucket")
@click.pass_context
def cli(ctx, store, endpoint_url, region, profile, user, app, as_json):
    """membucket: one memory for every LLM client, kept in a bucket.

    Example: membucket add "I prefer dark roast coffee"
    """
    ctx.obj = Runtime(
        {"store": store, "endpoint_url": endpoint_url, "region": region, "profile": profile, "user": user, "app": app},
        as_json,
    )


@cli.command()
@click.argument("text")
@click.option("--metadata", help="JSON object stored with the memory.")
@click.option("--category", "categories", multiple=True, help="Category (repeatable).")
@click.option("--infer", is_flag=True, help="Extract facts with the configured LLM (verbatim without one).")
@click.option("--no-dedupe", is_flag=True, help="Always add, even if an equal or near-equal memory exists.")
@pass_rt
@translate_errors
def add(rt: Runtime, text, metadata, categories, infer, no_dedupe):
    """Add a memory; prints the resulting id(s) and event (ADD, UPDATE or NOOP).

    Example: membucket add "Alice is allergic to peanuts" --category health
    """
    from . import ops

    _emit(ops.add(rt.ctx(), text, metadata=metadata, categories=list(categories) or None, infer=infer, dedupe=not no_dedupe))


@cli.command()
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
    from . import ops

    hits = ops.search(rt.ctx(), query, limit=limit, threshold=threshold, filters=ops.Filters(apps=list(apps), categories=list(categories)), mode=mode)
    _emit([{"id": h.id, "text": h.text, "score": h.score, "categories": h.categories, "created_at": h.created_at} for h in hits])


@cli.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(["active", "paused", "archived", "deleted"]), help="State (repeatable). Default: all but deleted.")
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
    from . import ops

    filters = ops.Filters(states=list(states), apps=list(apps), categories=list(categories), text=text)
    _emit(ops.list_memories(rt.ctx(owner=True), filters=filters, sort=sort, order=order, page=page, size=size, cursor=cursor))


@cli.command()
@click.argument("memory_id")
@pass_rt
@translate_errors
def get(rt: Runtime, memory_id):
    """Show one memory.

    Example: membucket get 6f1c...
    """
    from . import ops

    _emit(ops.get(rt.ctx(owner=True), memory_id))


@cli.command()
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
    from . import ops

    _emit(ops.update(rt.ctx(owner=True), memory_id, text=text, metadata=metadata, categories=list(categories) or None))


@cli.command()
@click.argument("memory_ids", nargs=-1, required=True)
@click.option("--to", "to", required=True, type=click.Choice(["active", "paused", "archived", "deleted"]), help="Target state.")
@pass_rt
@translate_errors
def state(rt: Runtime, memory_ids, to):
    """Change the state of one or more memories (all or nothing).

    Example: membucket state 6f1c... 9a2b... --to archived
    """
    from . import ops

    _emit(ops.change_state(rt.ctx(owner=True), list(memory_ids), to))


@cli.command()
@click.argument("memory_ids", nargs=-1, required=True)
@pass_rt
@translate_errors
def delete(rt: Runtime, memory_ids):
    """Delete memories (state 'deleted'; gone from search and listings).

    Example: membucket delete 6f1c...
    """
    from . import ops

    _emit(ops.delete(rt.ctx(owner=True), list(memory_ids)))


@cli.command("delete-all")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_rt
@translate_errors
def delete_all(rt: Runtime, yes):
    """Delete every memory of the user.

    Example: membucket delete-all --yes
    """
    from . import ops

    if not yes:
        click.confirm(f"Delete every memory of user {rt.settings.user!r}?", abort=True)
    _emit(ops.delete_all(rt.ctx(owner=True)))


@cli.command()
@click.argument("memory_id")
@pass_rt
@translate_errors
def history(rt: Runtime, memory_id):
    """Show a memory's history: adds, edits and state changes with actor and time.

    Example: membucket history 6f1c...
    """
    from . import ops

    _emit(ops.history(rt.ctx(owner=True), memory_id))


@cli.command()
@click.argument("memory_id")
@click.option("--limit", default=5, show_default=True)
@pass_rt
@translate_errors
def related(rt: Runtime, memory_id, limit):
    """Show the memories most similar to one memory.

    Example: membucket related 6f1c... --limit 3
    """
    from . import ops

    _emit(ops.related(rt.ctx(owner=True), memory_id, limit=limit))


@cli.command()
@pass_rt
@translate_errors
def stats(rt: Runtime):
    """Counts by state, app and category, and the log position.

    Example: membucket stats
    """
    from . import ops

    _emit(ops.stats(rt.ctx(owner=True)))


@cli.command()
@pass_rt
@translate_errors
def categories(rt: Runtime):
    """Categories in use, with counts.

    Example: membucket categories
    """
    from . import ops

    _emit(ops.list_categories(rt.ctx(owner=True)))


@cli.command()
@click.argument("memory_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every memory you can see (replaces existing categories).")
@click.option("--missing", is_flag=True, help="Only memories without categories.")
@pass_rt
@translate_errors
def recategorize(rt: Runtime, memory_ids, all_, missing):
    """Re-run the categorizer over memories, one commit per batch; prints counts.

    Example: membucket recategorize --missing
    """
    from rich.console import Console
    from rich.progress import Progress

    from . import ops

    if not (memory_ids or all_ or missing):
        raise click.UsageError("give memory ids, --all or --missing")
    if all_ and missing:
        raise click.UsageError("give --all or --missing, not both")
    console = Console(stderr=True)
    ctx, ids = rt.ctx(owner=True), list(memory_ids) or None
    if not console.is_terminal:  # piped or captured: no bar, stderr stays clean for errors
        return _emit(ops.recategorize(ctx, ids, only_missing=missing))
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("categorizing", total=None)
        result = ops.recategorize(ctx, ids, only_missing=missing, progress=lambda done, total: bar.update(task, completed=done, total=total))
    _emit(result)


@cli.group()
def category():
    """User-defined categories (a name and a description) the categorizer may assign."""


@category.command("define")
@click.argument("name")
@click.argument("description")
@pass_rt
@translate_errors
def category_define(rt: Runtime, name, description):
    """Define NAME (or replace its description); new writes and recategorize may assign it.

    Example: membucket category define gardening "Plants, vegetable beds, compost and garden tools"
    """
    from . import ops

    _emit(ops.define_category(rt.ctx(owner=True), name, description))


@category.command("delete")
@click.argument("name")
@pass_rt
@translate_errors
def category_delete(rt: Runtime, name):
    """Forget a definition (memories keep the category).

    Example: membucket category delete gardening
    """
    from . import ops

    ops.delete_category(rt.ctx(owner=True), name)
    _emit({"deleted": name})


@category.command("list")
@pass_rt
@translate_errors
def category_list(rt: Runtime):
    """User-defined categories with their descriptions.

    Example: membucket category list
    """
    from . import ops

    _emit(ops.list_category_defs(rt.ctx(owner=True)))


@cli.command("access-log")
@click.option("--memory", "memory_id", help="Only reads of this memory.")
@click.option("--for-app", "for_app", help="Only reads by this app.")
@click.option("--limit", default=100, show_default=True)
@pass_rt
@translate_errors
def access_log_cmd(rt: Runtime, memory_id, for_app, limit):
    """Show which app read which memory, newest first.

    Example: membucket access-log --for-app cursor
    """
    from . import ops

    _emit(ops.access_log(rt.ctx(owner=True), memory_id=memory_id, app=for_app, limit=limit))


@cli.group()
def apps():
    """List, pause and resume apps (MCP clients)."""


@apps.command("list")
@pass_rt
@translate_errors
def apps_list(rt: Runtime):
    """List apps with their memory counts.

    Example: membucket apps list
    """
    from . import ops

    _emit(ops.list_apps(rt.ctx(owner=True)))


@apps.command("pause")
@click.argument("name")
@pass_rt
@translate_errors
def apps_pause(rt: Runtime, name):
    """Pause an app: it can no longer read or write.

    Example: membucket apps pause cursor
    """
    from . import ops

    _emit(ops.set_app_paused(rt.ctx(owner=True), name, True))


@apps.command("resume")
@click.argument("name")
@pass_rt
@translate_errors
def apps_resume(rt: Runtime, name):
    """Resume a paused app.

    Example: membucket apps resume cursor
    """
    from . import ops

    _emit(ops.set_app_paused(rt.ctx(owner=True), name, False))


@cli.group()
def rules():
    """Allow/deny rules per app: all memories, one memory, or one category."""


@rules.command("list")
@click.option("--for-app", "for_app", help="Only rules that apply to this app.")
@pass_rt
@translate_errors
def rules_list(rt: Runtime, for_app):
    """List access rules.

    Example: membucket rules list --for-app cursor
    """
    from . import ops

    _emit(ops.list_rules(rt.ctx(owner=True), app=for_app))


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
    from . import ops

    if memory_id and category:
        raise click.UsageError("give --memory or --category, not both")
    scope, target = ("memory", memory_id) if memory_id else ("category", category) if category else ("all", None)
    _emit(ops.add_rule(rt.ctx(owner=True), app_name, effect, scope, target))


@rules.command("delete")
@click.argument("rule_id")
@pass_rt
@translate_errors
def rules_delete(rt: Runtime, rule_id):
    """Delete a rule by id.

    Example: membucket rules delete 0c5e...
    """
    from . import ops

    ops.delete_rule(rt.ctx(owner=True), rule_id)
    _emit({"deleted": rule_id})


@cli.command()
@click.option("--all-users", is_flag=True, help="Compact every namespace in the bucket.")
@click.option("--no-gc", is_flag=True, help="Write the checkpoint but delete nothing.")
@pass_rt
@translate_errors
def compact(rt: Runtime, all_users, no_gc):
    """Write a checkpoint at the newest sequence, then remove what retention allows.

    Example: membucket compact --all-users
    """
    users = rt.mb.users() if all_users else [rt.settings.user]
    out = []
    for user in users:
        r = rt.mb.compact(user, gc=not no_gc)
        out.append({"user": user, "seq": r.seq, "checkpoint_written": r.published, "gc": r.gc.__dict__})
    _emit(out if all_users else out[0])


@cli.command()
@click.option("--embedder", "embedder_name", required=True, help="Target embedder: minilm or openai (MEMBUCKET_OPENAI_* settings).")
@click.option("--user", "reindex_user", help="Namespace to reindex. Default: --user / MEMBUCKET_USER.")
@click.option("--all-users", is_flag=True, help="Reindex every namespace in the bucket.")
@click.option("--batch", default=64, show_default=True, help="Texts per embedding call (and per resumable part).")
@click.option("--dry-run", is_flag=True, help="Only tell how many memories would be re-embedded.")
@pass_rt
@translate_errors
def reindex(rt: Runtime, embedder_name, reindex_user, all_users, batch, dry_run):
    """Re-embed every memory (all states) with another embedder, then switch the namespace to it.

    Resumable: run it again after an interruption and it embeds only what is missing. Reads keep
    using the old vectors until the switch; afterwards, servers must run with the new embedder.

    Example: membucket reindex --embedder openai --all-users
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .client import load_embedder
    from .ops.reindex import reindex as run_reindex

    if all_users and reindex_user:
        raise click.UsageError("use --user or --all-users, not both")
    users = rt.mb.users() if all_users else [reindex_user or rt.settings.user]
    embedder = load_embedder(embedder_name, rt.settings)
    out = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), disable=dry_run) as bar:
        for user in users:
            task = bar.add_task(f"reindex {user}", total=None)
            result = run_reindex(
                rt.mb.namespace(user), embedder, batch=batch, dry_run=dry_run,
                progress=lambda done, total, task=task: bar.update(task, completed=done, total=total),
            )
            out.append(result.to_dict())
    _emit(out if all_users else out[0])


@cli.command()
@pass_rt
@translate_errors
def doctor(rt: Runtime):
    """Print the effective configuration and check the store, conditional writes and the embedder.

    Example: membucket doctor
    """
    from .doctor import run_checks

    report = run_checks(rt.mb)
    _emit(report)
    if not report["ok"]:
        sys.exit(1)


@cli.command()
@pass_rt
@translate_errors
def shell(rt: Runtime):
    """An interactive prompt: type text to add it, '?query' to search, 'list', or 'quit'.

    Example: membucket shell
    """
    from . import ops

    ctx = rt.ctx()
    click.echo(f"membucket shell - user {ctx.user!r}, app {ctx.app!r}, store {rt.mb.store.url}")
    click.echo("Type a sentence to remember it, '?question' to search, 'list' to list, 'quit' to leave.")
    while True:
        try:
            line = input("membucket> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not line:
            continue
        if line in ("quit", "exit"):
            return
        try:
            if line.startswith("?"):
                for h in ops.search(ctx, line[1:], limit=5):
                    click.echo(f"  {h.score:.3f}  {h.text}")
            elif line == "list":
                for m in ops.list_memories(rt.ctx(owner=True), size=20).items:
                    click.echo(f"  [{m.state}] {m.text}")
            else:
                for e in ops.add(ctx, line).events:
                    click.echo(f"  {e.event} {e.id}")
        except MembucketError as exc:
            click.echo(f"  error: {exc.code}: {exc.message}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; anything but loopback needs --auth.")
@click.option("--port", default=8765, show_default=True, help="Port to listen on.")
@click.option("--auth/--no-auth", default=None, help="Require bearer tokens (default: off on loopback).")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@pass_rt
@translate_errors
def serve(rt: Runtime, host, port, auth, log_level):
    """Serve the REST API and the MCP endpoint (what `make run` starts).

    Example: membucket serve --port 8765
    """
    from .http.serve import ServeRefused, run

    try:
        run(rt.mb, host=host, port=port, auth=auth, log_level=log_level)
    except ServeRefused as exc:
        raise CliError("auth_required", str(exc), rt.as_json) from exc


@cli.group()
def token():
    """Create, list and revoke bearer tokens (only their hashes are stored)."""


@token.command("create")
@click.option("--user", "token_user", help="User the token reaches. Default: --user / MEMBUCKET_USER.")
@click.option("--app", "token_app", help="App (client) the token acts as; omit for an owner token.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["read", "write", "admin"]), help="Scope (repeatable). Default: write.")
@click.option("--description", default="", help="A note to recognise the token by.")
@pass_rt
@translate_errors
def token_create(rt: Runtime, token_user, token_app, scopes, description):
    """Create a token and print it once (it cannot be shown again).

    Example: membucket token create --user alice --app cursor --scope write
    """
    from .auth import TokenStore

    plain, info = TokenStore(rt.mb.store).create(token_user or rt.settings.user, token_app, list(scopes) or ["write"], description)
    _emit({"token": plain, **info.public()})


@token.command("list")
@click.option("--user", "token_user", help="Only this user's tokens.")
@pass_rt
@translate_errors
def token_list(rt: Runtime, token_user):
    """List tokens (ids, users, apps, scopes; never the secrets).

    Example: membucket token list --user alice
    """
    from .auth import TokenStore

    _emit([t.public() for t in TokenStore(rt.mb.store).list(token_user)])


@token.command("revoke")
@click.argument("token_id")
@pass_rt
@translate_errors
def token_revoke(rt: Runtime, token_id):
    """Revoke a token by id.

    Example: membucket token revoke 3f2a9c0d11e4b5a6
    """
    from .auth import TokenStore

    _emit(TokenStore(rt.mb.store).revoke(token_id).public())


def _target(rt: Runtime, url: str):
    from .backup import BackupTarget

    s = rt.settings
    return BackupTarget.open(url, endpoint_url=s.endpoint_url, region=s.region, profile=s.profile)


@contextlib.contextmanager
def _progress(label: str):
    """A rich progress bar on stderr; yields the (done, total) callback the library calls."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _parse_at(value: str | None) -> tuple[int | None, Any]:
    """``--at``: a sequence number (digits) or an ISO time (UTC unless it says otherwise)."""
    if value is None:
        return None, None
    if value.strip().isascii() and value.strip().isdigit():
        return int(value), None
    from .engine.log import parse_ts

    try:
        return None, parse_ts(value)
    except (ValueError, OverflowError):  # OverflowError: an offset pushing the time past year 1 or 9999
        raise ValueError(f"--at must be a sequence number or an ISO time such as 2026-11-25T12:00:00Z, got {value!r}") from None


@cli.group("backup", invoke_without_command=True)
@click.option("--to", "to_url", metavar="URL", help="Backup target: s3://bucket/prefix, file:///abs/path or a path.")
@click.pass_context
@translate_errors
def backup_cmd(ctx, to_url):
    """Back up every namespace and the token store to URL (incremental; manifest written last).

    Example: membucket backup --to s3://my-backups/membucket
    """
    if ctx.invoked_subcommand is not None:
        return
    if not to_url:
        raise click.UsageError("give --to URL (or a subcommand: list, verify)")
    from .backup import take_backup

    rt: Runtime = ctx.obj
    target = _target(rt, to_url)
    with _progress("backing up namespaces") as progress:
        report = take_backup(rt.mb.store, target.root, progress=progress)
    _emit(dataclasses.asdict(report))
    if report.id is None:
        raise CliError("backup_incomplete", f"failed namespaces: {', '.join(report.failed) or '-'}; no manifest written", rt.as_json)


@backup_cmd.command("list")
@click.argument("url")
@pass_rt
@translate_errors
def backup_list(rt: Runtime, url):
    """List the backups in URL, oldest first.

    Example: membucket backup list s3://my-backups/membucket
    """
    from .backup import list_backups, load_manifest

    target = _target(rt, url)
    _emit([load_manifest(target.root, backup_id).summary() for backup_id in list_backups(target.root)])


@backup_cmd.command("verify")
@click.argument("url")
@click.option("--backup", "backup_id", help="Backup id (default: the newest).")
@pass_rt
@translate_errors
def backup_verify(rt: Runtime, url, backup_id):
    """Check that every object of a backup is there with its checksum and every namespace replays.

    Example: membucket backup verify s3://my-backups/membucket
    """
    from .backup import verify_backup

    target = _target(rt, url)
    with _progress("replaying namespaces") as progress:
        report = verify_backup(target.root, backup_id=backup_id, cache_dir=rt.settings.cache_dir, progress=progress)
    _emit({**dataclasses.asdict(report), "ok": report.ok})
    if not report.ok:
        sys.exit(1)


@cli.command("restore")
@click.option("--from", "from_url", required=True, metavar="URL", help="Backup location (as given to backup --to).")
@click.option("--user", "restore_user", help="Restore only this user (default: every namespace and token).")
@click.option("--at", "at", metavar="SEQ|TIME", help="Point in time: a sequence (with --user) or an ISO time.")
@click.option("--backup", "backup_id", help="Backup id (default: the newest).")
@click.option("--force", is_flag=True, help="Replace namespaces (and tokens) that hold data.")
@pass_rt
@translate_errors
def restore_cmd(rt: Runtime, from_url, restore_user, at, backup_id, force):
    """Restore a backup into the store: everything, or one user, optionally at an earlier point.

    Example: membucket restore --from s3://my-backups/membucket --user alice --at 2026-11-25T09:00:00Z
    """
    from .backup import restore

    at_seq, at_time = _parse_at(at)
    target = _target(rt, from_url)
    with _progress("restoring namespaces") as progress:
        report = restore(
            rt.mb.store, target.root, cache_dir=rt.settings.cache_dir, backup_id=backup_id,
            user=restore_user, at_seq=at_seq, at_time=at_time, force=force, progress=progress,
        )
    _emit(dataclasses.asdict(report))


@cli.group()
def bench():
    """Benchmarks that print figures and write JSON."""


@bench.command("engine")
@click.option("--n", "sizes", default="1000,10000,100000", show_default=True, help="Namespace sizes, comma-separated.")
@click.option("--backends", default="local,moto", show_default=True, help="Stores to measure: local, moto (HTTP server).")
@click.option("--out", default="bench/results/engine.json", show_default=True, help="Where to write the JSON results.")
@click.option("--queries", default=200, show_default=True, help="Searches per size.")
@click.option("--writers", default=8, show_default=True, help="Concurrent writer processes.")
@translate_errors
def bench_engine(sizes, backends, out, queries, writers):
    """Engine latency and throughput with random normalized vectors (no embedding).

    Example: membucket bench engine --n 1000,10000 --backends local
    """
    from .bench.engine import run

    run([int(x) for x in sizes.split(",") if x], backends=[b for b in backends.split(",") if b], out=out, queries=queries, writers=writers)


@bench.command("backup")
@click.option("--namespaces", default=100, show_default=True, help="Namespaces to back up.")
@click.option("--memories", default=20, show_default=True, help="Memories per namespace.")
@click.option("--backends", default="local,moto", show_default=True, help="Stores to measure: local, moto (HTTP server).")
@click.option("--out", default="bench/results/backup.json", show_default=True, help="Where to write the JSON results.")
@translate_errors
def bench_backup(namespaces, memories, backends, out):
    """Full, then incremental bucket backups of many small namespaces (copied vs skipped), verify, restore.

    Example: membucket bench backup --namespaces 100 --backends local
    """
    from .bench.backup import run

    run(namespaces, memories, backends=[b for b in backends.split(",") if b], out=out)


@bench.command("http")
@click.option("--n", default=10_000, show_default=True, help="Memories in the namespace.")
@click.option("--queries", default=200, show_default=True, help="Sequential searches measured.")
@click.option("--clients", default=8, show_default=True, help="Concurrent clients.")
@click.option("--seconds", default=15.0, show_default=True, help="Duration of the concurrent run.")
@click.option("--out", default="bench/results/http.json", show_default=True, help="Where to write the JSON results.")
@translate_errors
def bench_http(n, queries, clients, seconds, out):
    """MCP search_memory and REST search end to end over loopback HTTP (offline embedder).

    Example: membucket bench http --n 10000 --clients 8
    """
    from .bench.http import run

    run(n=n, queries=queries, clients=clients, seconds=seconds, out=out)


@bench.command("locomo")
@click.option("--data", "data_path", default="../shared/data/locomo/locomo_dev.json", show_default=True, help="LoCoMo JSON file (read in place, never copied).")
@click.option("--mode", "modes", default="hybrid", show_default=True, help="Search mode(s): dense, lexical, hybrid; comma-separated to compare.")
@click.option("--conversations", type=int, help="Only the first N conversations.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--out", help="Also write the JSON results here (e.g. bench/results/retrieval-quality.json).")
@click.option("--scale", type=int, help="Also time warm searches with this many memories in one namespace (e.g. 10000).")
@translate_errors
def bench_locomo(data_path, modes, conversations, as_json, out, scale):
    """Retrieval quality (recall@1/5/10, MRR) on LoCoMo through the real add and search operations.

    Example: membucket bench locomo --data ../shared/data/locomo/locomo_dev.json --mode dense,lexical,hybrid
    """
    from .bench.locomo import run

    try:
        run(data_path, [m for m in modes.split(",") if m], as_json=as_json, conversations=conversations, out=out, scale=scale)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc


@bench.command("categories")
@click.option("--data", "data_path", default="tests/data/categories_labelled.jsonl", show_default=True, help="Labelled JSONL (text, categories, split).")
@click.option("--out", default="bench/results/categories.json", show_default=True, help="Where to write the JSON results.")
@translate_errors
def bench_categories(data_path, out):
    """Offline categorizer quality: tune threshold/margin on the tune half, micro P/R/F1 on the holdout half.

    Example: membucket bench categories
    """
    from .bench.categories import run

    result = run(data_path, out=out)
    click.echo(json.dumps({k: v for k, v in result.items() if k != "holdout_per_category"}, indent=2))
from .cli_bundles import bench_export_cmd, export_cmd, import_cmd  # noqa: E402 (they use the helpers above)

cli.add_command(export_cmd)
cli.add_command(import_cmd)
bench.add_command(bench_export_cmd)


def main() -> None:
    cli(prog_name="membucket")


if __name__ == "__main__":
    main()
