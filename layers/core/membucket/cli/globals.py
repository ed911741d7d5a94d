"""The root options (--user, --json, ...) accepted after any subcommand as well as before it.

``membucket search tea --user alice`` means ``membucket --user alice search tea``. Each command
gets a hidden copy of every root option it does not define itself (``reindex --user`` and
``tokens create --app`` keep their own meaning); the copy writes into the Runtime the root
built, which is still unused then: the store opens only when the command runs.
"""

from __future__ import annotations

import click

__all__ = ["ROOT_OPTIONS", "share_root_options"]

# flag -> Runtime override key (None: the --json flag)
ROOT_OPTIONS = {
    "--store": "store",
    "--endpoint-url": "endpoint_url",
    "--region": "region",
    "--profile": "profile",
    "--user": "user",
    "--app": "app",
    "--json": None,
}


def _setter(key: str | None):
    def callback(ctx: click.Context, param: click.Parameter, value):
        if value is None or value is False:
            return
        rt = ctx.find_root().obj
        if key is None:
            rt.as_json = True
            ctx.find_root().params["as_json"] = True  # translate_errors reads it from there
        else:
            rt.overrides[key] = value

    return callback


def share_root_options(command: click.Command) -> None:
    """Give ``command`` (and, for a group, every command in it) the root options it lacks."""
    if getattr(command, "_root_options_shared", False):
        return
    command._root_options_shared = True  # type: ignore[attr-defined]
    taken = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for flag, key in ROOT_OPTIONS.items():
        if flag in taken:
            continue
        name = "root_" + flag.lstrip("-").replace("-", "_")
        if key is None:
            option = click.Option([flag, name], is_flag=True, expose_value=False, hidden=True, callback=_setter(key))
        else:
            option = click.Option([flag, name], expose_value=False, hidden=True, callback=_setter(key))
        command.params.append(option)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            share_root_options(sub)
