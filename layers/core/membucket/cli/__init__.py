"""The ``membucket`` command: each command is options, one library call, and error translation.

Data commands print JSON on stdout. Errors exit non-zero with one line on stderr
(``code: message``, or a JSON object with ``--json``). Commands live in the module of their
subject (memories, apps, tokens, bundles, admin, service, connect); ``base`` holds what they share. Commands that
only a development install has (``membucket bench``) come from the ``membucket.cli_plugins``
entry points, so this package never imports them.
"""

from __future__ import annotations

import click

from . import admin, apps, bundles, connect, memories, service, tokens
from .base import CliError, Runtime, translate_errors
from .globals import share_root_options

__all__ = ["main", "cli", "CliError", "Runtime", "translate_errors", "PLUGIN_GROUP"]

PLUGIN_GROUP = "membucket.cli_plugins"


class RootGroup(click.Group):
    """The root group; loads plugin commands (``PLUGIN_GROUP`` entry points) the first time a
    command is looked up that is not built in, or the commands are listed (``--help``)."""

    plugins_loaded = False

    def load_plugins(self) -> None:
        if self.plugins_loaded:
            return
        self.plugins_loaded = True
        from importlib.metadata import entry_points  # ~40 ms: only when a plugin may be needed

        for ep in entry_points(group=PLUGIN_GROUP):
            if ep.name not in self.commands:
                self.add_command(ep.load(), ep.name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self.load_plugins()
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            share_root_options(command)  # --user, --json, ... after the subcommand too
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_plugins()
        return super().list_commands(ctx)


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
        one_shot=ctx.invoked_subcommand != "serve",
    )


for _module in (memories, apps, tokens, bundles, admin, service, connect):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="membucket")

