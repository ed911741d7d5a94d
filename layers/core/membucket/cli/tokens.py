"""``membucket token``: create, list and revoke bearer tokens, and list and revoke OAuth grants
(the store keeps only their hashes)."""

from __future__ import annotations

import click

from .base import Runtime, emit, pass_rt, translate_errors

__all__ = ["COMMANDS"]


@click.group("token")
def token():
    """Create, list and revoke bearer tokens and OAuth grants (only their hashes are stored).

    Example: membucket token create --user alice --app cursor --scope write
    """


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
    from ..auth import TokenStore

    plain, info = TokenStore(rt.mb.store).create(token_user or rt.settings.user, token_app, list(scopes) or ["write"], description)
    emit({"token": plain, **info.public()})


@token.command("list")
@click.option("--user", "token_user", help="Only this user's tokens.")
@pass_rt
@translate_errors
def token_list(rt: Runtime, token_user):
    """List tokens and OAuth grants (ids, users, apps, scopes; never the secrets).

    Example: membucket token list --user alice
    """
    from ..auth.credentials import list_credentials

    emit(list_credentials(rt.mb.store, token_user))


@token.command("revoke")
@click.argument("token_id")
@pass_rt
@translate_errors
def token_revoke(rt: Runtime, token_id):
    """Revoke a token, or an OAuth client's grant, by id.

    Example: membucket token revoke 3f2a9c0d11e4b5a6
    """
    from ..auth.credentials import revoke_credential

    emit(revoke_credential(rt.mb.store, token_id))


COMMANDS = [token]
