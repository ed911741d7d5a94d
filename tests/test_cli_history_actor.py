"""History names who changed a memory from the CLI (the CLI's app name), never null."""

from __future__ import annotations

import json


def test_cli_edits_name_their_actor_in_history(cli_env):
    mid = json.loads(cli_env("add", "the sky is blue").stdout)["results"][0]["id"]
    cli_env("update", mid, "--text", "the sky is grey")
    cli_env("state", mid, "--to", "paused")
    cli_env("--app", "laptop", "delete", mid)
    events = json.loads(cli_env("history", mid).stdout)
    assert [(e["event"], e["actor"]) for e in events] == [("add", "cli"), ("update", "cli"), ("state", "cli"), ("state", "laptop")]
