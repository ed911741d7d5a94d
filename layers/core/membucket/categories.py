"""The default category taxonomy (OpenMemory's seed categories), shared by every categorizer."""

from __future__ import annotations

__all__ = ["DEFAULT_TAXONOMY"]

DEFAULT_TAXONOMY = (
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
