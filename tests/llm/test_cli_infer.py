"""``membucket add --infer`` with the operator's LLM from the environment."""

from __future__ import annotations

import json

from membucket import ops

from .conftest import KEY


def test_cli_add_infer_uses_the_configured_llm(cli_env, fake, monkeypatch):
    out = json.loads(cli_env("add", "Bob lives in Oslo", "--infer").stdout)
    assert out["note"].startswith("infer requested but no LLM is configured")  # MEMBUCKET_LLM unset: verbatim
    for name, value in {"LLM": "openai", "OPENAI_BASE_URL": fake.url, "OPENAI_API_KEY": KEY, "OPENAI_CHAT_MODEL": "fake-chat",
                        "LLM_MAX_RETRIES": "0"}.items():
        monkeypatch.setenv(f"MEMBUCKET_{name}", value)
    result = cli_env("add", "Bob no longer lives in Oslo. Bob plays chess", "--infer")
    out = json.loads(result.stdout)
    assert [(e["event"], e["text"]) for e in out["results"]] == [("DELETE", "Bob lives in Oslo"), ("ADD", "Bob plays chess")]
    assert "note" not in out
    assert fake.chat_requests and KEY not in result.output + result.stderr
    texts = sorted(m.text for m in ops.list_memories(cli_env.lib()).items)
    assert texts == ["Bob plays chess"]
