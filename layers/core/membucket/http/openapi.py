"""/openapi.json states the limits this server enforces, as configured, not only the hard ceilings.

Request models mark a field with ``LIMIT_KEY`` (the Settings field that caps it: max_batch,
max_search_limit, max_text_chars, max_categories) or ``ZONES_KEY`` (an IANA time zone). The first
request for the schema writes the configured value (never above the model's own ceiling) as
maxItems / maximum / maxLength, and the time zones this host's tz database knows as an enum, so
a client (or schemathesis) that follows the schema is never refused for a limit it could not see.
Auth decides the rest: with auth on no X-Membucket-User header (ignored then), with auth off no
bearer requirement (none is needed on loopback).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from fastapi import FastAPI

from ..api.schemas import LIMIT_KEY, USER_HEADER, ZONES_KEY
from ..settings import Settings

__all__ = ["install_openapi", "apply_limits"]

_BOUND = {"array": "maxItems", "integer": "maximum", "string": "maxLength"}


def install_openapi(app: FastAPI, settings: Settings, auth_required: bool) -> None:
    """With auth on, the X-Membucket-User header is ignored, so it is not published; with auth off
    (loopback) no request needs a token, so no operation says it does."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = apply_limits(plain(), settings)
            if auth_required:
                _drop_user_header(schema)
            else:
                _drop_security(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def apply_limits(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Rewrite every marked node of ``schema`` in place (and return it)."""
    zones: list[str] | None = None
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        setting = node.pop(LIMIT_KEY, None)
        if setting is not None:
            _cap(node, int(getattr(settings, setting)), f"MEMBUCKET_{setting.upper()}")
        if node.pop(ZONES_KEY, None):
            zones = zones if zones is not None else sorted(available_timezones() | {"UTC"})
            _zones(node, zones)
        stack.extend(node.values())
    return schema


def _drop_user_header(schema: dict[str, Any]) -> None:
    for path in schema.get("paths", {}).values():
        for op in path.values():
            if isinstance(op, dict) and "parameters" in op:
                op["parameters"] = [p for p in op["parameters"] if not (p.get("in") == "header" and p.get("name") == USER_HEADER)]
                if not op["parameters"]:
                    del op["parameters"]


def _drop_security(schema: dict[str, Any]) -> None:
    for path in schema.get("paths", {}).values():
        for op in path.values():
            if isinstance(op, dict):
                op.pop("security", None)
    schema.get("components", {}).pop("securitySchemes", None)


def _typed(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The node itself, or its non-null anyOf branches (an optional field)."""
    if "anyOf" in node:
        return [b for b in node["anyOf"] if isinstance(b, dict) and b.get("type") != "null"]
    return [node]


def _cap(node: dict[str, Any], value: int, env: str) -> None:
    for branch in _typed(node):
        key = _BOUND.get(branch.get("type", ""))
        if key is not None:
            branch[key] = min(value, branch.get(key, value))
    node["x-setting"] = env


def _zones(node: dict[str, Any], zones: list[str]) -> None:
    for branch in _typed(node):
        if branch.get("type") == "string":
            branch["enum"] = zones
