"""Guards applied before any route, as plain ASGI so they also cover the MCP endpoint.

Request body limit (413; ``POST /api/v1/import`` has its own, ``max_import_bytes``), Host
allow-list (421, the DNS-rebinding defence on loopback, configured with real hostnames behind a
proxy), a browser-Origin allow-list (403; a write without Origin that Sec-Fetch-Site or Referer
says came from another site is refused too) and a per-caller rate limit (429), all answering in
the API's JSON error shape. The OAuth discovery, registration and token endpoints skip the Origin
check and answer CORS instead: browser-based MCP clients call them, and none trusts cookies.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..caller import IMPORT_PATH, ServerState, error_response

__all__ = ["LOOPBACK_HOSTS", "GuardMiddleware", "RateLimiter"]

LOOPBACK_HOSTS = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# A Host header is a name or an IPv4 address, or a bracketed IPv6 address, then an optional port;
# anything else (userinfo ``@``, a path, spaces) is refused before any pattern is tried.
_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_.*-]+))(?::(?P<port>[0-9]{1,5}|\*))?")


def split_host(host: str) -> tuple[str, str | None] | None:
    """``(hostname, port or None)`` of a Host header (or an allow-list pattern), None if malformed.
    IPv6 names keep their brackets, so ``[::1]`` compares as written."""
    m = _HOST.fullmatch(host.strip().lower())
    if not m:
        return None
    name = f"[{m['v6']}]" if m["v6"] is not None else m["name"]
    return name, m["port"]


def host_allowed(host: str, patterns: list[str]) -> bool:
    """Whether a Host header matches one of the allow-list patterns (``name``, ``name:port``,
    ``name:*``; ``*`` in the name is a wildcard, brackets are literal)."""
    parsed = split_host(host)
    if parsed is None:
        return False
    name, port = parsed
    if port == "*" or "*" in name:
        return False  # a wildcard is for patterns, not for what a client sends
    for pattern in patterns:
        want = split_host(pattern)
        if want is None:
            continue
        want_name, want_port = want
        name_ok = fnmatch.fnmatchcase(name, want_name.replace("[", "[[]")) if "*" in want_name else name == want_name
        port_ok = port == want_port or (want_port == "*" and port is not None)
        if name_ok and port_ok:
            return True
    return False

# Browser-based MCP clients (the MCP Inspector, web apps) call these cross-origin. None of them
# trusts cookies or ambient credentials, so any origin may; /authorize stays same-origin only.
_CORS_PATHS = ("/register", "/token", "/revoke")
CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": "authorization, content-type, mcp-protocol-version",
    "access-control-max-age": "600",
}


def is_cors_path(path: str) -> bool:
    return path in _CORS_PATHS or path.startswith("/.well-known/oauth-")


class RateLimiter:
    """Token bucket per caller (bearer token, else client address): ``per_minute`` requests with
    bursts of the same size. In-process: each server process (or Lambda container) counts alone;
    API Gateway throttling is the fleet-wide limit in the cloud."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def retry_after(self, caller: str) -> float:
        """0 if the request may go ahead (and is counted), else seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(caller, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if len(self._buckets) > 10_000 and now >= self._next_prune:  # forget idle callers (at most every 10 s)
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 120}
                self._next_prune = now + 10
            if tokens >= 1:
                self._buckets[caller] = (tokens - 1, now)
                return 0.0
            self._buckets[caller] = (tokens, now)
            return (1 - tokens) / self.rate


def _with_cors(send: Send) -> Send:
    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *((k.encode(), v.encode()) for k, v in CORS_HEADERS.items())]}
        await send(message)

    return send_with_cors


def _too_large(scope: Scope, limit: int):
    """413; on the MCP endpoint as a JSON-RPC error body, which MCP clients show (a plain 413 reads
    as "Server returned an error response")."""
    message = f"request body above {limit} bytes"
    if str(scope.get("path", "")).startswith("/mcp"):
        error = {"code": -32600, "message": f"too_large: {message}", "data": {"code": "too_large", "status": 413, "limit": limit}}
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, status_code=413)
    return error_response(413, "too_large", message)


class GuardMiddleware:
    """Body size, Host, Origin and rate checks, as plain ASGI so they also cover the MCP endpoint."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state
        self.limiter = RateLimiter(state.rate_limit_per_minute) if state.rate_limit_per_minute else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.state.allowed_hosts and not host_allowed(host, self.state.allowed_hosts):
            return await error_response(421, "misdirected_request", f"host {host!r} is not served here")(scope, receive, send)
        cors = self.state.oauth is not None and is_cors_path(scope.get("path", ""))
        if cors:  # OAuth discovery, registration and tokens: any origin (nothing there trusts cookies)
            if scope.get("method") == "OPTIONS":
                return await Response(status_code=204, headers=CORS_HEADERS)(scope, receive, send)
            send = _with_cors(send)
        origin = headers.get("origin")
        scheme = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
        if origin and not cors and not self._origin_ok(origin, host, scheme):
            return await error_response(403, "origin_not_allowed", f"origin {origin!r} is not allowed")(scope, receive, send)
        if not origin and not cors and scope.get("method") not in SAFE_METHODS and self._foreign_without_origin(headers, host, scheme):
            return await error_response(403, "origin_not_allowed", "a write from another site is not allowed")(scope, receive, send)
        if self.limiter is not None:
            client = scope.get("client") or ("?", 0)
            wait = self.limiter.retry_after(headers.get("authorization") or client[0])
            if wait:
                return await error_response(
                    429, "rate_limited", "too many requests; slow down", headers={"Retry-After": str(max(1, round(wait)))}
                )(scope, receive, send)
        limit = self.state.max_body_bytes
        bundle = scope.get("path") == IMPORT_PATH and scope.get("method") == "POST"
        if bundle:  # the import route has its own limit, and spools its body to disk itself
            limit = self.state.max_import_bytes
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                return await _too_large(scope, limit)(scope, receive, send)
            return await self.app(scope, receive, send)
        if bundle:
            return await self.app(scope, receive, send)
        # No Content-Length (chunked): read up to the limit here, so an oversized body is a 413
        # from us rather than a parse error deep inside FastAPI or the MCP transport.
        chunks, received = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > limit:
                return await _too_large(scope, limit)(scope, receive, send)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _foreign_without_origin(self, headers: dict[str, str], host: str, scheme: str) -> bool:
        """A browser that leaves Origin out of a write still says where it came from: Sec-Fetch-Site
        (another port of this host is "same-site"), or the Referer. Non-browser clients send neither."""
        if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return True
        referer = headers.get("referer")
        if not referer:
            return False
        try:
            parts = urlsplit(referer)
        except ValueError:
            return True
        return not (parts.scheme and parts.netloc and self._origin_ok(f"{parts.scheme}://{parts.netloc}", host, scheme))

    def _origin_ok(self, origin: str, host: str, scheme: str) -> bool:
        if origin.lower() == f"{scheme}://{host}".lower():
            return True  # same origin (scheme, host and port): the UI served by this app
        return any(fnmatch.fnmatch(origin.lower(), p.lower()) for p in self.state.allowed_origins)
