"""``membucket export`` and ``membucket import``: options, one ``ops`` call, a progress bar.

The passphrase never comes from argv (it would sit in shell history and ``ps``): it is read from
``MEMBUCKET_PASSPHRASE``, or asked for on the terminal.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import click

from .cli import Runtime, _emit, pass_rt, translate_errors

__all__ = ["export_cmd", "import_cmd"]

PASSPHRASE_ENV = "MEMBUCKET_PASSPHRASE"


def _passphrase(confirm: bool) -> str:
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    return click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)


@contextlib.contextmanager
def _progress(enabled: bool):
    """A rich progress bar on stderr fed by the ops' ``progress(stage, done, total)`` callback."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=False) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


@click.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True), help="File to write (.zip, or .mbx with --encrypt).")
@click.option("--app", "app", help="Only memories created by this app.")
@click.option("--state", "states", multiple=True, type=click.Choice(["active", "paused", "archived", "deleted"]), help="Only this state (repeatable). Default: all.")
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
    from . import ops

    filters = ops.ExportFilters.parse(app=app, states=list(states), created_after=created_after, created_before=created_before)
    passphrase = _passphrase(confirm=True) if encrypt else None
    target = Path(out)
    partial = target.with_name(target.name + ".part")
    try:
        with open(partial, "wb") as f, _progress(progress) as update:
            manifest = ops.export_bundle(rt.ctx(owner=True), f, filters=filters, passphrase=passphrase, progress=update)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _emit({"file": str(target), "bytes": target.stat().st_size, "encrypted": bool(encrypt), "manifest": manifest})


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "target_user", help="Import into this user. Default: --user / MEMBUCKET_USER.")
@click.option("--mode", type=click.Choice(["merge", "replace"]), default="merge", show_default=True,
              help="merge: add what is missing, take newer; replace: make the namespace equal to the bundle.")
@click.option("--reembed", is_flag=True, help="Embed every text with this embedder (needed when the bundle's differs).")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@pass_rt
@translate_errors
def import_cmd(rt: Runtime, file, target_user, mode, reembed, progress):
    """Import a membucket bundle (.zip / .mbx) or an OpenMemory export zip (detected).

    Validates everything before the first write; commits once. An encrypted bundle asks for its
    passphrase (or reads MEMBUCKET_PASSPHRASE).

    Example: membucket import alice.zip --user alice --mode merge
    """
    from . import ops
    from .ops.encryption import is_encrypted

    with open(file, "rb") as f:
        passphrase = _passphrase(confirm=False) if is_encrypted(f.read(4)) else None
    ctx = rt.mb.context(target_user or rt.settings.user)
    with _progress(progress) as update:
        result = ops.import_bundle(ctx, file, mode=mode, reembed=reembed, passphrase=passphrase, progress=update)
    _emit(result)


@click.command("export")
@click.option("--n", default=100_000, show_default=True, help="Memories (with 384-d synthetic vectors).")
@click.option("--store", "store_kind", default="local", type=click.Choice(["local"]), show_default=True, help="Store backend.")
@click.option("--out", default="bench/results/export.json", show_default=True, help="Where to write the JSON results.")
@translate_errors
def bench_export_cmd(n, store_kind, out):
    """Export and import N memories: time, peak memory, bundle size (no model needed).

    Example: membucket bench export --n 10000
    """
    from .bench.export import run

    run(n=n, out=out)



