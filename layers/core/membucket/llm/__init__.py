"""The optional chat model: categories (categorize.py) and fact extraction (extract.py) through any
OpenAI-compatible endpoint. ``load_llm(settings)`` is None when the operator configured none."""

from __future__ import annotations

from ..settings import Settings
from .categorize import LlmCategorizer
from .client import Llm, LlmError

__all__ = ["Llm", "LlmError", "LlmCategorizer", "load_llm"]

LLMS = ("none", "openai")


def load_llm(settings: Settings) -> Llm | None:
    """The operator's LLM (``MEMBUCKET_LLM=openai``), or None (``none``, the default)."""
    s = settings
    if s.llm == "none":
        return None
    if s.llm != "openai":
        raise ValueError(f"unknown llm {s.llm!r}; available: {', '.join(LLMS)}")
    key = s.llm_api_key or s.openai_api_key
    return Llm(
        s.openai_chat_model,
        base_url=s.llm_base_url or s.openai_base_url,
        api_key=key.get_secret_value() if key else None,
        timeout=s.llm_timeout_seconds,
        max_retries=s.llm_max_retries,
        response_format=s.llm_response_format,
        max_tokens=s.llm_max_tokens,
    )
