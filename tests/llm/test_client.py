"""The chat client and the LLM categorizer through the real ``openai`` client against the fake server."""

from __future__ import annotations

import json

import pytest
from membucket import Settings
from membucket.categories import DEFAULT_TAXONOMY
from membucket.llm import Llm, LlmCategorizer, LlmError, load_llm
from membucket.llm.categorize import MAX_LENGTH, normalize_category
from membucket.ops.validate import clean_categories

from .conftest import KEY

SCHEMA = {
    "type": "object",
    "properties": {"categories": {"type": "array", "items": {"type": "string"}}},
    "required": ["categories"],
    "additionalProperties": False,
}


def make_llm(fake, **kw) -> Llm:
    return Llm("fake-chat", base_url=fake.url, api_key=KEY, timeout=kw.pop("timeout", 5), max_retries=kw.pop("max_retries", 0), **kw)


def test_structured_output_is_requested_with_the_schema_and_parsed(fake):
    doc = make_llm(fake).structured("file it", "Alice takes insulin", "categories", SCHEMA)
    assert doc == {"categories": ["Health"]}
    req = fake.chat_requests[0]
    assert req["model"] == "fake-chat" and req["temperature"] == 0
    assert req["response_format"] == {"type": "json_schema", "json_schema": {"name": "categories", "schema": SCHEMA, "strict": True}}
    assert [m["role"] for m in req["messages"]] == ["system", "user"] and req["messages"][1]["content"] == "Alice takes insulin"
    assert fake.headers[-1]["authorization"] == f"Bearer {KEY}"
    assert req["max_tokens"] == 1024
    make_llm(fake, max_tokens=0).structured("file it", "x", "categories", SCHEMA)
    assert "max_tokens" not in fake.chat_requests[-1]  # for models that refuse it


def test_json_object_mode_puts_the_schema_in_the_prompt(fake):
    doc = make_llm(fake, response_format="json_object").structured("file it", "Alice takes insulin", "categories", SCHEMA)
    assert doc == {"categories": ["Health"]}
    req = fake.chat_requests[0]
    assert req["response_format"] == {"type": "json_object"}
    assert json.dumps(SCHEMA) in req["messages"][0]["content"]
    with pytest.raises(ValueError):
        make_llm(fake, response_format="xml")


@pytest.mark.parametrize("answer", ["not json at all", "[1, 2]", "", '{"categories": ', '{"categories": ' + "[" * 100_000], ids=["text", "list", "empty", "cut", "deeply-nested"])
def test_unusable_answers_are_llm_errors(fake, answer):
    fake.chat_script.append(answer)
    with pytest.raises(LlmError):
        make_llm(fake).structured("file it", "x", "categories", SCHEMA)


def _completion(message=None, choices=None) -> dict:
    body = {"id": "x", "object": "chat.completion", "created": 0, "model": "fake-chat"}
    if choices is not None:
        body["choices"] = choices
    else:
        body["choices"] = [{"index": 0, "message": message, "finish_reason": "stop"}]
    return body


@pytest.mark.parametrize("body", [
    _completion({"role": "assistant", "content": ["not", "a", "string"]}),
    _completion({"role": "assistant", "content": 42}),
    _completion({"role": "assistant", "content": {"categories": ["work"]}}),
    _completion(None),
    _completion(choices=[]),
    _completion(choices="nope"),
    {"object": "chat.completion"},
], ids=["list-content", "number-content", "object-content", "no-message", "no-choices", "odd-choices", "bare"])
def test_odd_provider_responses_are_llm_errors(fake, body):
    fake.chat_raw.append(body)
    with pytest.raises(LlmError):
        make_llm(fake).structured("file it", "x", "categories", SCHEMA)


def test_a_code_fenced_answer_is_accepted(fake):
    fake.chat_script.append('```json\n{"categories": ["work"]}\n```')
    assert make_llm(fake).structured("file it", "x", "categories", SCHEMA) == {"categories": ["work"]}


def test_provider_errors_and_timeouts_are_llm_errors_without_the_key(fake):
    fake.chat_fail_next = 1
    with pytest.raises(LlmError) as info:
        make_llm(fake).structured("s", "x", "categories", SCHEMA)
    assert "InternalServerError" in str(info.value) and KEY not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained request details
    fake.chat_fail_next = 1
    assert make_llm(fake, max_retries=1).structured("s", "x", "categories", SCHEMA)["categories"] == []  # retried
    fake.chat_delay = 2.0
    with pytest.raises(LlmError) as info:
        make_llm(fake, timeout=0.3).structured("s", "x", "categories", SCHEMA)
    assert "Timeout" in str(info.value)
    assert KEY not in repr(make_llm(fake))


def test_categories_come_from_the_taxonomy_normalized(fake):
    cat = LlmCategorizer(make_llm(fake))
    assert cat("Alice is allergic to peanuts and loves green tea") == ["health", "preferences"]
    system = fake.chat_requests[0]["messages"][0]["content"]
    assert all(name in system for name in DEFAULT_TAXONOMY)
    assert len(DEFAULT_TAXONOMY) == 20 and DEFAULT_TAXONOMY[8] == "ai/ml & technology"


def test_new_categories_only_when_none_fits_and_bounded(fake):
    cat = LlmCategorizer(make_llm(fake))
    # the fake answers unknown tags as given: names are normalized (lowercase, allowed characters)
    assert cat("Alice brews beer in her garage #Home_Brewing!! #Wood<b>craft") == ["home brewing", "wood b craft"]
    assert cat("Alice brews beer #a #b #c #d") == ["a", "b"]  # at most two new names
    assert cat.clean(["Work", "Travel", "Health", "Finance", "Shopping"]) == ["work", "travel", "health"]  # at most three
    assert cat.clean(["Work", "Knitting"]) == ["work"]  # a taxonomy name fits: no new name
    assert cat.clean(["AI/ML & Technology", "ai/ml & technology"]) == ["ai/ml & technology"]
    assert cat.clean("work") == [] and cat.clean([None, 3, {"x": 1}, "   ", "!!!"]) == []
    long = cat.clean(["x" * 500])
    assert long == ["x" * MAX_LENGTH]
    for raw in ("Ünïcode Cätegory", "a/b & c.d+e-f", "tabs\tand\nnewlines", "../../etc/passwd"):
        name = normalize_category(raw)
        assert name and clean_categories([name], Settings()) == [name]  # always a valid category


def test_load_llm_follows_the_operator_settings(fake):
    assert load_llm(Settings()) is None  # none by default: no network, no key
    with pytest.raises(ValueError):
        load_llm(Settings(llm="anthropic"))
    llm = load_llm(Settings(llm="openai", openai_base_url="http://127.0.0.1:9/v1", llm_base_url=fake.url,
                            llm_api_key="sk-chat-only", openai_chat_model="fake-chat", llm_max_retries=0))
    assert llm.structured("s", "Alice takes insulin", "categories", SCHEMA) == {"categories": ["Health"]}
    assert fake.headers[-1]["authorization"] == "Bearer sk-chat-only"  # the chat key wins over openai_api_key


def test_the_key_can_come_from_openai_api_key_in_the_environment(fake, monkeypatch):
    """Lambda exports the Secrets Manager key as OPENAI_API_KEY (membucket.aws); settings name none."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-secrets-manager")
    llm = load_llm(Settings(llm="openai", openai_base_url=fake.url, openai_chat_model="fake-chat", llm_max_retries=0))
    llm.structured("s", "x", "categories", SCHEMA)
    assert fake.headers[-1]["authorization"] == "Bearer sk-from-secrets-manager"
    from membucket.embed.openai_compat import OpenAIEmbedder

    OpenAIEmbedder("fake-embed", base_url=fake.url, max_retries=0).embed(["x"])  # the embedder too
    assert fake.headers[-1]["authorization"] == "Bearer sk-from-secrets-manager"
