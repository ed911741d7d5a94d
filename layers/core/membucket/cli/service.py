"""``membucket service``: start the server at login (systemd user unit, launchd agent, Task
Scheduler logon task), or show what that would write."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .. import service as svc
from .base import CliError, Runtime, pass_rt, translate_errors

__all__ = ["COMMANDS"]

# Settings worth carrying into the service's environment; secrets stay out of service files.
_SECRET_WORDS = ("key", "secret", "token", "password", "passphrase")
_OWN = ("MEMBUCKET_STORE", "MEMBUCKET_PORT")


@click.command("service")
@click.argument("action", type=click.Choice(svc.ACTIONS))
@click.option("--port", type=int, help="Port the service listens on. Default: MEMBUCKET_PORT or 8765.")
@click.option("--dry-run", is_flag=True, help="Print what would be written and run; change nothing.")
@click.option("--platform", "platform", type=click.Choice(svc.PLATFORMS), help="Render for this platform (default: this machine's).")
@pass_rt
@translate_errors
def service(rt: Runtime, action: str, port: int | None, dry_run: bool, platform: str | None) -> None:
    """Install, remove or inspect the service that starts `membucket serve` at login.

    The store is the one --store / MEMBUCKET_STORE names (made absolute). Other MEMBUCKET_*
    settings in the environment are copied into the service, except secrets: put those in
    ~/.config/membucket/env (systemd) or set them for your login session.

    Example: membucket --store /media/me/STICK/membucket service install --port 8765

    Render for another platform, changing nothing: membucket service install --dry-run --platform windows
    """
    from ..settings import Settings
    from ..store import open_store

    settings = Settings(**rt.overrides)
    detected, distro = svc.detect_platform()
    platform = platform or detected
    store = settings.store
    if "://" not in store:
        store = str(Path(store).expanduser().resolve())
        if action == "install" and not dry_run:
            open_store(store)  # refuses a filesystem that can't keep the store's guarantees, now
    env = {
        k: v for k, v in os.environ.items()
        if k.startswith("MEMBUCKET_") and k not in _OWN and not any(w in k.lower() for w in _SECRET_WORDS)
    }
    spec = svc.ServiceSpec(
        command=(sys.executable, "-m", "membucket"),
        store=store,
        port=port or settings.port,
        env=env,
        wsl_distro=distro if platform == "windows" else None,
    )
    plan = svc.plan(action, platform, spec)
    if dry_run:
        click.echo(plan.describe())
        return
    if platform != detected:
        raise CliError("invalid_input", f"this machine is {detected}: use --dry-run to render for {platform}", rt.as_json)
    code = svc.execute(plan, echo=click.echo)
    if code:
        sys.exit(code)


COMMANDS = [service]
