"""``load_categorizer(settings, embedder)``: the categorizer a Membucket uses unless given one.

``MEMBUCKET_CATEGORIZER``: ``auto`` (the LLM categorizer when an LLM is configured, else the
offline zero-shot one), ``llm`` (an LLM is required), ``zeroshot`` or ``off``.
"""

from __future__ import annotations

import importlib
import logging

from ..embed.base import Embedder
from ..settings import Settings
from .base import Categorizer
from .zeroshot import ZeroShotCategorizer

__all__ = ["load_categorizer", "CATEGORIZERS"]

CATEGORIZERS = ("auto", "llm", "zeroshot", "off")
log = logging.getLogger(__name__)
# What ``membucket.llm`` may call its categorizer (a class or function taking the Llm).
_LLM_FACTORY_NAMES = ("LlmCategorizer", "LLMCategorizer", "make_categorizer", "llm_categorizer")


def _llm_categorizer(settings: Settings) -> Categorizer | None:
    """The LLM categorizer if ``membucket.llm`` exists and an LLM is configured; else None."""
    try:
        llm_mod = importlib.import_module("membucket.llm")
    except ModuleNotFoundError as exc:
        if exc.name not in ("membucket.llm",):
            raise
        return None
    llm = llm_mod.load_llm(settings)
    if llm is None:
        return None
    make = next((getattr(llm_mod, n) for n in _LLM_FACTORY_NAMES if hasattr(llm_mod, n)), None)
    if make is None:
        log.warning("membucket.llm has no LlmCategorizer; falling back to zero-shot categories")
        return None
    return make(llm)


def load_categorizer(settings: Settings, embedder: Embedder) -> Categorizer | None:
    """The configured categorizer; ``embedder`` must be the one that embeds the memories."""
    mode = (settings.categorizer or "auto").strip().lower()
    if mode not in CATEGORIZERS:
        raise ValueError(f"unknown categorizer {settings.categorizer!r}; expected one of {', '.join(CATEGORIZERS)}")
    if mode == "off":
        return None
    if mode in ("auto", "llm"):
        cat = _llm_categorizer(settings)
        if cat is not None:
            return cat
        if mode == "llm":
            raise ValueError("MEMBUCKET_CATEGORIZER=llm but no LLM is configured")
    return ZeroShotCategorizer(embedder, cache_dir=settings.cache_dir)
