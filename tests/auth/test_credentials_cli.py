"""`membucket token list|revoke` show and revoke OAuth grants next to bearer tokens."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from membucket import cli as cli_module
from membucket.auth import InvalidToken, TokenStore
from membucket.auth.oauth import AuthorizationServer
from membucket.store import open_store

from .conftest import REDIRECT, authorize, exchange


def test_token_list_and_revoke_cover_oauth_grants(tmp_path, monkeypatch):
    url = str(tmp_path / "bucket")
    monkeypatch.setenv("MEMBUCKET_STORE", url)
    store = open_store(url)
    tokens = TokenStore(store)
    _, info = tokens.create("alice", "cursor", ["write"])
    server = AuthorizationServer(store, tokens)
    client = server.register({"client_name": "Claude", "redirect_uris": [REDIRECT]})
    code, verifier = authorize(server, client)
    issued = exchange(server, client, code, verifier)
    runner = CliRunner()

    listed = json.loads(runner.invoke(cli_module.cli, ["token", "list", "--user", "alice"], catch_exceptions=False).stdout)
    assert [(c["kind"], c["id"], c["app"]) for c in listed] == [("token", info.id, "cursor"), ("oauth", issued.grant.id, "claude")]
    assert all("sha256" not in json.dumps(c) for c in listed)
    assert json.loads(runner.invoke(cli_module.cli, ["token", "list", "--user", "bob"]).stdout) == []

    revoked = json.loads(runner.invoke(cli_module.cli, ["token", "revoke", issued.grant.id], catch_exceptions=False).stdout)
    assert revoked["kind"] == "oauth" and revoked["revoked_at"]
    server.grants._grant_cache.clear()
    with pytest.raises(InvalidToken, match="revoked"):
        server.grants.verify_access(issued.access_token)
    assert json.loads(runner.invoke(cli_module.cli, ["token", "revoke", info.id]).stdout)["kind"] == "token"
    missing = runner.invoke(cli_module.cli, ["token", "revoke", "0" * 16])
    assert missing.exit_code == 1 and "not_found" in missing.output + missing.stderr
