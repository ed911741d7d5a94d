"""Exact filters shared by search, list and delete-all (compiled to SQL by ``engine.predicates``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..engine.keys import validate_app_name
from ..errors import InvalidInput
from .validate import clean_state

__all__ = ["Filters", "parse_time"]

_META_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def parse_time(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        from ..engine.log import parse_ts  # at use: engine.log brings numpy, which building the API needs not

        return parse_ts(value.isoformat() if isinstance(value, datetime) else str(value))
    except (ValueError, OverflowError):  # OverflowError: a zone offset pushing a time past year 9999
        raise InvalidInput(f"{name} is not an ISO-8601 time: {str(value)[:40]!r}") from None


@dataclass
class Filters:
    apps: list[str] = field(default_factory=list)  # created by any of these apps
    categories: list[str] = field(default_factory=list)  # has any of these categories
    states: list[str] = field(default_factory=list)  # empty: every state but deleted
    created_after: datetime | None = None
    created_before: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # equality on top-level keys
    text: str | None = None  # case-insensitive substring

    def __post_init__(self) -> None:
        self.apps = [validate_app_name(a) for a in self.apps]
        self.categories = [c.strip().lower() for c in self.categories if c and c.strip()]
        self.states = [clean_state(s) for s in self.states]
        self.created_after = parse_time(self.created_after, "created_after")
        self.created_before = parse_time(self.created_before, "created_before")
        for key in self.metadata:
            if not _META_KEY.match(str(key)):
                raise InvalidInput(f"invalid metadata filter key {str(key)[:40]!r}")

    @property
    def empty(self) -> bool:
        return not (self.apps or self.categories or self.created_after or self.created_before or self.metadata or self.text)
