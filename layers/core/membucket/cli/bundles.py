"""Moving memories in and out: ``export`` and ``import`` (one user's bundle), ``backup`` and
``restore`` (the whole bucket). Options, one library call, a progress bar on stderr.

The passphrase never comes from argv (it would sit in shell history and ``ps``): it is read from
``MEMBUCKET_PASSPHRASE`` (``Settings.passphrase``), or asked for on the terminal.

ops, backup and rich are imported when a command runs, so ``--help`` stays light.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import InvalidInput
from .base import CliError, Runtime, emit, pass_rt, progress_bar, translate_errors

if TYPE_CHECKING:
    from ..backup import BackupTarget

__all__ = ["COMMANDS"]


def _passphrase(rt: Runtime, confirm: bool) -> str:
    secret = rt.settings.passphrase
    if secret is not None and secret.get_secret_value():
        return secret.get_secret_value()
    return click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)


@contextlib.contextmanager
def _stages(enabled: bool) -> Iterator[Callable[[str, int, int | None], None] | None]:
    """A rich progress bar on stderr fed by the ops' ``progress(stage, done, total)`` callback."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


@click.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True), help="File to write (.zip, or .mbx with --encrypt).")
@click.option("--app", "app", help="Only memories created by this app.")
@click.option(
    "--state", "states", multiple=True, type=click.Choice(["active", "paused", "archived", "deleted"]), help="Only this state (repeatable). Default: all."
)
@click.option("--created-after", help="ISO-8601: only memories created at or after.")
@click.option("--created-before", help="ISO-8601: only memories created before.")
@click.option("--encrypt", is_flag=True, help="Encrypt with a passphrase (MEMBUCKET_PASSPHRASE, or prompted).")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@pass_rt
@translate_errors
def export_cmd(rt: Runtime, out, app, states, created_after, created_before, encrypt, progress):
    """Export the user's memory (every field, vectors, apps, rules, history, access log) to a bundle.

    Prints the bundle's manifest. The file appears only once complete.

    Example: membucket export --out alice.zip --state active
    """
    from .. import ops

    filters = ops.ExportFilters.parse(app=app, states=list(states), created_after=created_after, created_before=created_before)
    passphrase = _passphrase(rt, confirm=True) if encrypt else None
    target = Path(out)
    partial = target.with_name(target.name + ".part")
    try:
        with open(partial, "wb") as f, _stages(progress) as update:
            manifest = ops.export_bundle(rt.ctx(owner=True), f, filters=filters, passphrase=passphrase, progress=update)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    emit({"file": str(target), "bytes": target.stat().st_size, "encrypted": bool(encrypt), "manifest": manifest})


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option("--from-openmemory-db", "om_db", type=click.Path(exists=True, dir_okay=False), metavar="PATH",
              help="Read an OpenMemory install's SQLite database (openmemory.db) directly, without its server.")
@click.option("--openmemory-user", "om_user", metavar="USER_ID",
              help="With --from-openmemory-db: the OpenMemory user to bring over (needed when it has several).")
@click.option("--user", "target_user", help="Import into this user. Default: --user / MEMBUCKET_USER.")
@click.option("--mode", type=click.Choice(["merge", "replace"]), default="merge", show_default=True,
              help="merge: add what is missing, take newer; replace: make the namespace equal to the bundle.")
@click.option("--reembed", is_flag=True, help="Embed every text with this embedder (needed when the bundle's differs).")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@pass_rt
@translate_errors
def import_cmd(rt: Runtime, file, om_db, om_user, target_user, mode, reembed, progress):
    """Import a membucket bundle (.zip / .mbx) or an OpenMemory export zip (detected), or an
    OpenMemory database (--from-openmemory-db; its memories are embedded again).

    Validates everything before the first write; commits once. An encrypted bundle asks for its
    passphrase (or reads MEMBUCKET_PASSPHRASE).

    Example: membucket import alice.zip --user alice --mode merge
    (or: membucket import --from-openmemory-db ~/openmemory/api/openmemory.db)
    """
    from .. import ops
    from ..ops.encryption import is_encrypted

    if (file is None) == (om_db is None):
        raise InvalidInput("give a bundle FILE or --from-openmemory-db PATH (one of them)")
    if om_user and not om_db:
        raise InvalidInput("--openmemory-user goes with --from-openmemory-db")
    ctx = rt.mb.context(target_user or rt.settings.user)
    if om_db:
        with _stages(progress) as update:
            emit(ops.import_openmemory_db(ctx, om_db, user=om_user, mode=mode, progress=update))
        return
    with open(file, "rb") as f:
        passphrase = _passphrase(rt, confirm=False) if is_encrypted(f.read(4)) else None
    with _stages(progress) as update:
        result = ops.import_bundle(ctx, file, mode=mode, reembed=reembed, passphrase=passphrase, progress=update)
    emit(result)


def _target(rt: Runtime, url: str) -> BackupTarget:
    from ..backup import BackupTarget

    s = rt.settings
    try:
        return BackupTarget.open(url, endpoint_url=s.endpoint_url, region=s.region, profile=s.profile)
    except ValueError as exc:  # a malformed or unknown URL (store.url says which)
        raise InvalidInput(str(exc)) from exc


def _parse_at(value: str | None) -> tuple[int | None, datetime | None]:
    """``--at``: a sequence number (digits) or an ISO time (UTC unless it says otherwise)."""
    if value is None:
        return None, None
    from ..engine.log import parse_ts

    if value.strip().isascii() and value.strip().isdigit():
        return int(value), None
    try:
        return None, parse_ts(value)
    except (ValueError, OverflowError):  # OverflowError: an offset pushing the time past year 1 or 9999
        raise InvalidInput(f"--at must be a sequence number or an ISO time such as 2026-11-25T12:00:00Z, got {value!r}") from None


@click.group("backup", invoke_without_command=True)
@click.option("--to", "to_url", metavar="URL", help="Backup target: s3://bucket/prefix, file:///abs/path or a path.")
@click.pass_context
@translate_errors
def backup_cmd(ctx: click.Context, to_url: str | None) -> None:
    """Back up every namespace and the token store to URL (incremental; manifest written last).

    Example: membucket backup --to s3://my-backups/membucket
    """
    if ctx.invoked_subcommand is not None:
        return
    if not to_url:
        raise click.UsageError("give --to URL (or a subcommand: list, verify)")
    from ..backup import take_backup

    rt: Runtime = ctx.obj
    target = _target(rt, to_url)
    with progress_bar("backing up namespaces") as progress:
        report = take_backup(rt.mb.store, target.root, progress=progress)
    emit(dataclasses.asdict(report))
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
    from ..backup import list_backups, load_manifest

    target = _target(rt, url)
    emit([load_manifest(target.root, backup_id).summary() for backup_id in list_backups(target.root)])


@backup_cmd.command("verify")
@click.argument("url")
@click.option("--backup", "backup_id", help="Backup id (default: the newest).")
@pass_rt
@translate_errors
def backup_verify(rt: Runtime, url, backup_id):
    """Check that every object of a backup is there with its checksum and every namespace replays.

    Example: membucket backup verify s3://my-backups/membucket
    """
    from ..backup import verify_backup

    target = _target(rt, url)
    with progress_bar("replaying namespaces") as progress:
        report = verify_backup(target.root, backup_id=backup_id, cache_dir=rt.settings.cache_dir, progress=progress)
    emit({**dataclasses.asdict(report), "ok": report.ok})
    if not report.ok:
        sys.exit(1)


@click.command("restore")
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
    from ..backup import restore

    at_seq, at_time = _parse_at(at)
    target = _target(rt, from_url)
    with progress_bar("restoring namespaces") as progress:
        report = restore(
            rt.mb.store, target.root, cache_dir=rt.settings.cache_dir, backup_id=backup_id,
            user=restore_user, at_seq=at_seq, at_time=at_time, force=force, progress=progress,
        )
    emit(dataclasses.asdict(report))


COMMANDS = [export_cmd, import_cmd, backup_cmd, restore_cmd]
