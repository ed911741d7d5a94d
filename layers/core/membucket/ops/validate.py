"""Input checks shared by every operation; each failure is a named 4xx error, raised before any write."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from ..engine.keys import validate_memory_id
from ..errors import EmptyText, InvalidInput, InvalidMetadata, InvalidState, TooLarge
from ..settings import Settings

TIMELINE_MAX_DAYS = 366  # the longest timeline (ops.timeline); here so the API's schema names it without the engine
CATEGORY_DESCRIPTION_MAX = 500  # characters of a user-defined category's description (ops.category_defs)

__all__ = ["clean_text", "text_hash", "clean_metadata", "clean_categories", "clean_ids", "clean_state", "clean_limit"]

_WS = re.compile(r"\s+")
_CATEGORY = re.compile(r"^[\w&/ .+-]{1,64}$", re.UNICODE)


def clean_text(text: Any, settings: Settings, what: str = "text") -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a string")
    if "\x00" in text:
        raise InvalidInput(f"{what} must not contain NUL characters")
    text = text.strip()
    if not text:
        raise EmptyText(f"{what} is empty")
    if len(text) > settings.max_text_chars:
        raise TooLarge(
            f"{what} is {len(text)} characters; the limit is {settings.max_text_chars} (MEMBUCKET_MAX_TEXT_CHARS)",
            limit=settings.max_text_chars,
        )
    return text


def text_hash(text: str) -> str:
    """Hash of the normalized text (case, Unicode form and whitespace folded): exact duplicates collide."""
    norm = _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def clean_metadata(metadata: Any, settings: Settings) -> dict[str, Any]:
    if metadata is None:
        return {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError as exc:
            raise InvalidMetadata(f"metadata is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise InvalidMetadata("metadata must be a JSON object")
    if _depth(metadata) > settings.max_metadata_depth:
        # Deep nesting passes a size limit but breaks serializers downstream (a 500 on every later read).
        raise InvalidMetadata(
            f"metadata nests deeper than {settings.max_metadata_depth} levels (MEMBUCKET_MAX_METADATA_DEPTH)",
            limit=settings.max_metadata_depth,
        )
    try:
        size = len(json.dumps(metadata, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidMetadata(f"metadata is not JSON-serializable: {exc}") from None
    if size > settings.max_metadata_bytes:
        raise TooLarge(f"metadata is {size} bytes; the limit is {settings.max_metadata_bytes}", limit=settings.max_metadata_bytes)
    return metadata


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``{}`` is 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, (list, tuple)) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def clean_categories(categories: Iterable[Any] | None, settings: Settings) -> list[str]:
    if categories is None:
        return []
    if isinstance(categories, str):
        categories = [categories]
    out: list[str] = []
    for c in categories:
        if not isinstance(c, str) or not _CATEGORY.match(c.strip()):
            raise InvalidInput(f"invalid category {str(c)[:80]!r}: 1-64 letters, digits, spaces and & / . + - _")
        name = c.strip().lower().replace("i\u0307", "i")  # "İ".lower() adds a combining dot the rule refuses
        if name not in out:
            out.append(name)
    if len(out) > settings.max_categories:
        raise TooLarge(f"{len(out)} categories; the limit is {settings.max_categories}", limit=settings.max_categories)
    return out


def clean_ids(ids: Any, settings: Settings) -> list[str]:
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, (list, tuple)) or not ids:
        raise InvalidInput("give at least one memory id")
    if len(ids) > settings.max_batch:
        raise TooLarge(f"{len(ids)} ids; the limit is {settings.max_batch} (MEMBUCKET_MAX_BATCH)", limit=settings.max_batch)
    out: list[str] = []
    for i in ids:
        mid = validate_memory_id(i)
        if mid not in out:
            out.append(mid)
    return out


def clean_state(state: Any) -> str:
    from ..engine.replay import STATES  # at use: engine.replay brings duckdb, faiss and numpy

    if state not in STATES:
        raise InvalidState(f"unknown state {str(state)[:40]!r}; expected one of {', '.join(STATES)}")
    return state


def clean_limit(limit: Any, maximum: int, name: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput(f"{name} must be a positive integer")
    if limit > maximum:
        raise TooLarge(f"{name} {limit} is above the maximum {maximum}", limit=maximum)
    return limit
