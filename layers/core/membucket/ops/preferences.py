"""Per-user UI preferences: a small JSON object in the user's namespace, ``ns/<user>/preferences.json``.

Preferences are not memories: they are not in the log or the checkpoints, only the latest
value matters, and a write replaces the object (last writer wins). Validation is strict
(unknown keys, out-of-range values and unknown time zones are 400s), so nothing invalid is ever
stored. The owner manages them; an app-bound token may read them but not change them.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..engine.log import format_ts, utcnow
from ..errors import Forbidden, InvalidInput
from ..store import NotFound
from .access import check_caller
from .context import Context
from .timeline import zone

__all__ = ["Preferences", "get_preferences", "put_preferences", "preferences_key"]


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    search_mode: Literal["hybrid", "dense", "lexical"] = Field("hybrid", description="Default ranking of the UI's search")
    page_size: int = Field(25, ge=5, le=200, description="Memories per page in the UI")
    timezone: str = Field("UTC", min_length=1, max_length=64, description="IANA time zone the UI shows times in")
    theme: Literal["auto", "light", "dark"] = Field("auto", description="Colour scheme (auto follows the system)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value != "UTC":
            try:
                zone(value)
            except InvalidInput as exc:
                raise ValueError(exc.message) from None
        return value


def preferences_key(ctx: Context) -> str:
    return ctx.ns.keys.preferences


def get_preferences(ctx: Context) -> dict[str, Any]:
    """The stored preferences over the defaults (a stored key that no longer validates is dropped)."""
    check_caller(ctx)
    try:
        raw = json.loads(ctx.ns.store.get(preferences_key(ctx)).body)
    except (NotFound, ValueError):  # never saved, or damaged: the defaults, never a locked-out UI
        raw = {}
    values = raw.get("values", {}) if isinstance(raw, dict) else {}
    prefs = Preferences()
    for name, value in (values.items() if isinstance(values, dict) else []):
        try:
            prefs = Preferences.model_validate({**prefs.model_dump(), name: value})
        except ValidationError:
            continue
    return {**prefs.model_dump(), "updated_at": raw.get("updated_at") if isinstance(raw, dict) else None}


def put_preferences(ctx: Context, values: dict[str, Any]) -> dict[str, Any]:
    """Validate a full or partial set of preferences, merge it over the current ones, store it."""
    check_caller(ctx)  # a paused app hears that first, as on every route
    if ctx.app is not None:
        raise Forbidden("preferences belong to the owner; an app-bound token cannot change them")
    current = get_preferences(ctx)
    current.pop("updated_at")
    try:
        prefs = Preferences.model_validate({**current, **values})
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()][:20]
        raise InvalidInput("invalid preferences: " + "; ".join(f"{p['field']}: {p['msg']}" for p in problems), errors=problems) from None
    doc: dict[str, Any] = {"values": prefs.model_dump(), "updated_at": format_ts(utcnow())}
    ctx.ns.store.put(preferences_key(ctx), json.dumps(doc).encode())
    return {**doc["values"], "updated_at": doc["updated_at"]}
