"""History names who changed a memory from the CLI (the CLI's app name), never null."""

from __future__ import annotations

import json

from tests.test_cli_options import env  # noqa: F401  (the CLI fixture)


def test_cli_edits_name_their_actor_in_history(env):  # noqa: F811
    mid = json.loads(env("add", "the sky is blue").stdout)["results"][0]["id"]
    env("update", mid, "--text", "the sky is grey")
    env("state", mid, "--to", "paused")
    env("--app", "laptop", "delete", mid)
    events = json.loads(env("history", mid).stdout)
    assert [(e["event"], e["actor"]) for e in events] == [("add", "cli"), ("update", "cli"), ("state", "cli"), ("state", "laptop")]
