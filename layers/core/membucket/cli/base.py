"""What every command module shares: the Runtime the root options build, JSON output, and the one
error boundary (``translate_errors``), which shows a failure as ``error: <code>: <message>``.

Failures are mapped by ``ops.failures.as_membucket_error``, the same mapping REST and MCP use, so a
failure has the same code on every surface. Anything it does not know is a bug and propagates
with its traceback.

Only click is imported up front: ``--help`` loads every command module, and the client, the
settings (pydantic) and rich load when a command runs (tests/test_cli_start.py checks).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..client import Membucket
    from ..ops.context import Context
    from ..settings import Settings

__all__ = ["CliError", "Runtime", "emit", "pass_rt", "progress_bar", "translate_errors"]


def emit(data: Any) -> None:
    """Print a result as JSON on stdout (results with ``to_dict`` and lists of them too)."""
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
    """Turn library and store errors into one-line CLI errors (sqlite-utils style)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        as_json = click.get_current_context().find_root().params.get("as_json", False)
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise  # a usage error: nothing to translate (and no need to load the store's errors)
        except Exception as exc:
            from ..ops.failures import as_membucket_error

            error = as_membucket_error(exc)
            if error is None:
                raise
            raise CliError(error.code, error.message, as_json) from exc

    return wrapper


# A one-shot command fails in seconds when the store is unreachable (a server keeps the
# defaults: 10 retries, 5 s connect timeout). MEMBUCKET_STORE_* settings still win.
ONE_SHOT_STORE = {"store_max_retries": 1, "store_connect_timeout": 2.0}


class Runtime:
    """What the root options resolve to; built lazily so --help never touches the store."""

    def __init__(self, overrides: dict[str, Any], as_json: bool, one_shot: bool = True) -> None:
        self.overrides = {k: v for k, v in overrides.items() if v is not None}
        self.as_json = as_json
        self.one_shot = one_shot
        self._mb: Membucket | None = None

    @property
    def settings(self) -> Settings:
        return self.mb.settings

    @property
    def mb(self) -> Membucket:
        if self._mb is None:
            from ..client import Membucket
            from ..errors import InvalidInput
            from ..settings import Settings

            try:
                settings = Settings(**self.overrides)
                if self.one_shot:
                    settings = settings.model_copy(update={k: v for k, v in ONE_SHOT_STORE.items() if getattr(settings, k) is None})
                self._mb = Membucket(settings)
            except ValueError as exc:  # a bad option or MEMBUCKET_* value (settings, store URL)
                raise InvalidInput(str(exc)) from exc
        return self._mb

    def ctx(self, owner: bool = False) -> Context:
        # the owner acts without an app (no rules); history still names who made the change
        return self.mb.context(self.settings.user, None if owner else self.settings.app, actor=self.settings.app)


pass_rt = click.make_pass_decorator(Runtime)


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar on stderr; yields the (done, total) callback the library calls."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
