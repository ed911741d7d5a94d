"""The default category taxonomy: the names every categorizer (LLM or offline) chooses from."""

from __future__ import annotations

__all__ = ["DEFAULT_TAXONOMY"]

DEFAULT_TAXONOMY: tuple[str, ...] = (
    "personal",
    "relationships",
    "preferences",
    "health",
    "travel",
    "work",
    "education",
    "projects",
    "ai/ml & technology",
    "technical support",
    "finance",
    "shopping",
    "legal",
    "entertainment",
    "messages",
    "customer support",
    "product feedback",
    "news",
    "organization",
    "goals",
)
