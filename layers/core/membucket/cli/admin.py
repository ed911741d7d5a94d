"""Running membucket: doctor, compact, reindex, recategorize and serve (the shell: shell.py).

What a command needs (ops, the doctor, rich, the web stack) is imported when it runs."""

from __future__ import annotations

import sys

import click

from .base import CliError, Runtime, emit, pass_rt, translate_errors
from .shell import shell

__all__ = ["COMMANDS"]


@click.command("doctor")
@pass_rt
@translate_errors
def doctor(rt: Runtime):
    """Print the effective configuration and check the store, conditional writes and the embedder.

    Example: membucket doctor
    """
    from ..doctor import run_checks

    report = run_checks(rt.mb)
    emit(report)
    if not report["ok"]:
        sys.exit(1)


@click.command("compact")
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
    emit(out if all_users else out[0])


@click.command("reindex")
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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    from .. import client
    from ..ops.reindex import reindex as run_reindex

    if all_users and reindex_user:
        raise click.UsageError("use --user or --all-users, not both")
    users = rt.mb.users() if all_users else [reindex_user or rt.settings.user]
    embedder = client.load_embedder(embedder_name, rt.settings)
    out = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), disable=dry_run) as bar:
        for user in users:
            task = bar.add_task(f"reindex {user}", total=None)

            def progress(done: int, total: int | None, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total)

            result = run_reindex(rt.mb.namespace(user), embedder, batch=batch, dry_run=dry_run, progress=progress)
            out.append(result.to_dict())
    emit(out if all_users else out[0])


@click.command("recategorize")
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

    from .. import ops

    if not (memory_ids or all_ or missing):
        raise click.UsageError("give memory ids, --all or --missing")
    if all_ and missing:
        raise click.UsageError("give --all or --missing, not both")
    console = Console(stderr=True)
    ctx, ids = rt.ctx(owner=True), list(memory_ids) or None
    if not console.is_terminal:  # piped or captured: no bar, stderr stays clean for errors
        return emit(ops.recategorize(ctx, ids, only_missing=missing))
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("categorizing", total=None)
        result = ops.recategorize(ctx, ids, only_missing=missing, progress=lambda done, total: bar.update(task, completed=done, total=total))
    emit(result)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; anything but loopback needs --auth.")
@click.option("--port", type=int, help="Port to listen on. Default: MEMBUCKET_PORT or 8765.")
@click.option("--auth/--no-auth", default=None, help="Require bearer tokens (default: off on loopback).")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@pass_rt
@translate_errors
def serve(rt: Runtime, host, port, auth, log_level):
    """Serve the REST API and the MCP endpoint (what `make run` starts).

    Example: membucket serve --port 8765
    """
    from ..http.serve import PortInUse, ServeRefused, run

    try:
        run(rt.mb, host=host, port=port or rt.settings.port, auth=auth, log_level=log_level)
    except PortInUse as exc:
        raise CliError("port_in_use", str(exc), rt.as_json) from exc
    except ServeRefused as exc:
        raise CliError("auth_required", str(exc), rt.as_json) from exc


COMMANDS = [doctor, compact, reindex, recategorize, serve, shell]
