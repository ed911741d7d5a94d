"""A chat model behind any OpenAI-compatible endpoint, asked for JSON that fits a schema.

Configured only by the operator (settings / env / secret), never by an API caller: a caller-set
base URL would let anyone make the server fetch arbitrary URLs. The key goes to the ``openai``
client and nowhere else (not in the bucket, not in API answers, not in logs or error messages).
Every failure (provider error, timeout, output that is not the JSON asked for) is an ``LlmError``,
so callers can fall back instead of failing the user's write.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["Llm", "LlmError"]


class LlmError(RuntimeError):
    """The model did not give a usable answer; the message is safe to show (no key, no prompt)."""


class Llm:
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 20.0,
        max_retries: int = 1,
        response_format: str = "json_schema",
        max_tokens: int = 1024,
    ) -> None:
        from openai import OpenAI

        if response_format not in ("json_schema", "json_object"):
            raise ValueError("response_format must be json_schema or json_object")
        # Local servers (Ollama, vLLM, LM Studio) need no key, but the client insists on one.
        # OPENAI_API_KEY is where Lambda puts the key it reads from Secrets Manager (membucket.aws).
        self._client = OpenAI(base_url=base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed", timeout=timeout, max_retries=max_retries)
        self.model = model
        self.response_format = response_format
        self.max_tokens = max_tokens

    def __repr__(self) -> str:  # never the client (it holds the key)
        return f"Llm(model={self.model!r})"

    def structured(self, system: str, user: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        """One chat completion whose answer must be a JSON object following ``schema``.

        ``json_schema`` mode uses structured outputs (OpenAI, Azure, vLLM, LM Studio, Ollama >= 0.5);
        ``json_object`` mode, for endpoints without it, puts the schema in the prompt instead.
        """
        import openai
        from openai.types.chat import ChatCompletionMessageParam
        from openai.types.shared_params import ResponseFormatJSONObject, ResponseFormatJSONSchema

        fmt: ResponseFormatJSONSchema | ResponseFormatJSONObject
        if self.response_format == "json_schema":
            fmt = {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
        else:
            fmt = {"type": "json_object"}
            system = f"{system}\n\nAnswer with one JSON object that follows this JSON schema:\n{json.dumps(schema)}"
        messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            resp = self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                response_format=fmt,
                temperature=0,
                max_tokens=self.max_tokens or openai.omit,  # 0: not sent, for models that refuse it
            )
        except openai.OpenAIError as exc:
            raise LlmError(f"LLM provider failed: {type(exc).__name__}") from None
        try:
            content = resp.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            raise LlmError("LLM answer has no message") from None
        if content is not None and not isinstance(content, str):  # the client does not validate answers
            raise LlmError("LLM answer is not text")
        if not content:
            raise LlmError("LLM answer is empty (refused or cut off)")
        try:
            doc = json.loads(_strip_fence(content))
        except (ValueError, RecursionError):  # RecursionError: nesting too deep for the parser
            raise LlmError("LLM answer is not valid JSON") from None
        if not isinstance(doc, dict):
            raise LlmError("LLM answer is not a JSON object")
        return doc


def _strip_fence(text: str) -> str:
    """Some local models wrap JSON in a Markdown code fence even when asked not to."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text
