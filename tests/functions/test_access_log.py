"""The Lambda's one line per request names the path, never the query string."""

from __future__ import annotations

import json

from .conftest import call


def test_the_request_line_has_no_query_string(bucket, tokens, load, stdout):
    token, _ = tokens.create("alice", None, ["admin"])
    search = load("search")
    status, _ = call(search, "GET", "/api/v1/memories?token=mb_leaked", None, token, query="q=my+secret+diagnosis&token=mb_leaked")
    lines = [json.loads(line) for line in stdout().splitlines() if line.startswith("{") and '"request"' in line]
    assert lines and lines[-1]["path"] == "/api/v1/memories", lines
    assert "secret" not in json.dumps(lines) and "mb_leaked" not in json.dumps(lines)
