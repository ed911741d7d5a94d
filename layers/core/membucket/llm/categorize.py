"""Categories from the LLM: structured output over the default taxonomy, new names only when none fits.

The answer is normalized (lowercase, allowed characters only, bounded length and count) so a
model cannot flood a memory with categories or smuggle odd names into access rules. A failure is
an ``LlmError``: the caller commits the memory uncategorized and fills categories later.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..categories import DEFAULT_TAXONOMY
from .client import Llm

__all__ = ["LlmCategorizer", "normalize_category", "SCHEMA"]

MAX_CATEGORIES = 3  # per memory, from the LLM
MAX_NEW = 2  # new (non-taxonomy) names, and only when no taxonomy category fits
MAX_LENGTH = 40  # characters in a new name

SCHEMA = {
    "type": "object",
    "properties": {"categories": {"type": "array", "items": {"type": "string"}}},
    "required": ["categories"],
    "additionalProperties": False,
}

_DISALLOWED = re.compile(r"[^\w&/ .+-]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def normalize_category(name: object, max_length: int = MAX_LENGTH) -> str | None:
    """Lowercase, only the characters categories allow, single spaces, at most ``max_length``; None if nothing is left."""
    if not isinstance(name, str):
        return None
    name = _SPACES.sub(" ", _DISALLOWED.sub(" ", name.replace("_", " ").lower().replace("i\u0307", "i"))).strip(" .-+/&")
    name = name[:max_length].strip(" .-+/&")
    return name or None


class LlmCategorizer:
    """``(text, vector) -> categories`` for ``Context.categorizer``; raises ``LlmError`` on failure.

    ``deferred``: it calls the network, so writes commit first and categorize in a follow-up
    commit (see ops/pending.py) instead of holding the write on the model.
    """

    deferred = True

    def __init__(self, llm: Llm, taxonomy: Sequence[str] = DEFAULT_TAXONOMY, max_categories: int = MAX_CATEGORIES) -> None:
        self.llm = llm
        self.taxonomy = tuple(taxonomy)
        self.max_categories = max_categories
        self._known = {t.lower(): t for t in self.taxonomy}
        self._system = (
            "You file one personal memory under categories. Choose 1 to "
            f"{max_categories} categories from this list, copied exactly: {', '.join(self.taxonomy)}. "
            "Only if none of them fits, give 1 new category instead: a short, general, lowercase name "
            "(1-3 words, no punctuation), never a sentence. "
            'Answer with JSON: {"categories": [...]}.'
        )

    def __call__(self, text: str, vector: np.ndarray | None = None) -> list[str]:
        doc = self.llm.structured(self._system, text, "categories", SCHEMA)
        return self.clean(doc.get("categories"))

    def clean(self, raw: object) -> list[str]:
        """Taxonomy names first; new names only when no taxonomy name was given; bounded."""
        if not isinstance(raw, list):
            return []
        known: list[str] = []
        new: list[str] = []
        for item in raw[:50]:
            name = normalize_category(item)
            if name is None:
                continue
            if name in self._known:
                if self._known[name] not in known:
                    known.append(self._known[name])
            elif name not in new:
                new.append(name)
        out = known or new[:MAX_NEW]
        return out[: self.max_categories]
