"""The ``membucket`` command run in-process (CliRunner), the way every CLI test drives it."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner, Result
from membucket import cli as cli_module


def cli_invoker() -> Any:
    """``run(*args, code=0, input=None)``: one command; its exit code must be ``code`` (``None``:
    any), and a failed check shows the command's output."""
    runner = CliRunner()

    def run(*args: str, code: int | None = 0, input: str | None = None) -> Result:
        result = runner.invoke(cli_module.cli, list(args), catch_exceptions=False, input=input)
        if code is not None:
            assert result.exit_code == code, result.output + result.stderr
        return result

    return run
