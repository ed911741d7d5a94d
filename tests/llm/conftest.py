"""A Membucket whose LLM is the local fake OpenAI-compatible server, reached by the real ``openai`` client."""

from __future__ import annotations

import json

import pytest
from membucket import Membucket, Settings
from membucket.engine.namespace import ReplicaRegistry
from membucket.llm import LlmCategorizer

from tests.support.embedders import HashEmbedder
from tests.support.fake_openai import fake_openai

KEY = "sk-llm-secret-never-stored-0123456789"


@pytest.fixture
def fake():
    with fake_openai() as (url, server):
        server.url = url
        yield server


def llm_settings(url: str, **kw) -> dict:
    base = dict(
        llm="openai", openai_base_url=url, openai_api_key=KEY, openai_chat_model="fake-chat",
        llm_max_retries=0, llm_timeout_seconds=5, categorize_async=False,
    )
    return {**base, **kw}


@pytest.fixture
def make(tmp_path, fake):
    """``make(categorizer=True, **settings)``: a Membucket over one bucket with the fake LLM."""

    def _make(categorizer: bool = True, **kw) -> Membucket:
        settings = Settings(store=str(tmp_path / "bucket"), cache_dir=str(tmp_path / "cache"), **llm_settings(fake.url, **kw))
        mb = Membucket(settings, embedder=HashEmbedder(), registry=ReplicaRegistry(), categorizer=None)
        if categorizer:
            mb.categorizer = LlmCategorizer(mb.llm)
        return mb

    return _make


def log_entries(mb: Membucket, user: str = "alice") -> list[dict]:
    """Every committed log entry of ``user``, oldest first, as stored in the bucket."""
    keys = sorted(i.key for i in mb.store.list(f"ns/{user}/log/"))
    return [json.loads(mb.store.get(k).body) for k in keys]


def op_names(entry: dict) -> list[str]:
    return [op["op"] for op in entry["ops"]]
