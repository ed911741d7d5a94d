"""405 before routing: a method a path does not declare is refused, naming every method it does (``Allow``).

Starlette picks the first route whose path matches, so ``PATCH /memories/delete`` reached
``PATCH /memories/{memory_id}`` (422, for a body it did not expect) and a 405 named the methods of
one route of the path only. The methods of a path are those of the routes /openapi.json lists,
read as OpenAPI reads paths: a concrete path wins over a templated one that also matches it.
Paths the schema does not list (MCP, the UI, /docs) are left to their routes.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from ..caller import error_response

__all__ = ["MethodCheck", "method_table", "allowed_methods"]

Table = list[tuple[re.Pattern[str], bool, frozenset[str]]]


def method_table(api: FastAPI) -> Table:
    """(path regex, templated, methods) of every route the app's OpenAPI lists (not the schema itself: cheap)."""
    by_path: dict[str, set[str]] = {}
    for route in iter_route_contexts(api.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema and route.path_format and route.methods:
            by_path.setdefault(route.path_format, set()).update(route.methods)
    table: Table = []
    for path, methods in by_path.items():
        parts = re.split(r"(\{[^}/]+\})", path)
        regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        table.append((re.compile(f"^{regex}$"), "{" in path, frozenset(methods)))
    return table


def allowed_methods(table: Table, path: str) -> frozenset[str]:
    """Methods declared for ``path``; empty when the schema does not list it."""
    concrete: set[str] = set()
    templated: set[str] = set()
    for regex, is_templated, methods in table:
        if regex.match(path):
            (templated if is_templated else concrete).update(methods)
    return frozenset(concrete or templated)


class MethodCheck:
    """ASGI middleware: 405 with ``Allow`` for a method the path does not declare in ``api``'s OpenAPI."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self.table: Table | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self.table is None:
                self.table = method_table(self.api)
            path, root = scope["path"], scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):] or "/"
            allowed = allowed_methods(self.table, path)
            if allowed and scope["method"] not in allowed:
                allow = ", ".join(sorted(allowed))
                response = error_response(405, "method_not_allowed", f"{scope['method']} is not allowed here; use {allow}", headers={"Allow": allow})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
