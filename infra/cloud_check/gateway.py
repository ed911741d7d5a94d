"""API Gateway (HTTP API, payload 2.0) and the Lambda service in front of the sandboxes.

A request is routed the way the template's routes say, becomes the event API Gateway would
send, and is held to the limits the real path enforces: a request event over 6 MB is refused
by Lambda (413 here), a response over 6 MB fails (502), an invocation that outlives the
function's timeout or the integration's 30 s is cut off (504) and its sandbox is discarded, as
Lambda does. Each function gets one warm sandbox, started on its first event (a cold start).
"""

from __future__ import annotations

import base64
import json
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from .sandbox import Sandbox, cpu_cgroup, remove_cgroup

__all__ = ["Gateway", "Reply", "FunctionStats", "PAYLOAD_LIMIT"]

PAYLOAD_LIMIT = 6 * 1024 * 1024  # synchronous Lambda invocation, request and response
API_TIMEOUT_S = 30.0  # HTTP API integration ceiling
HOST = "cc0api.execute-api.us-east-1.amazonaws.com"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    ms: float
    function: str
    error: str | None = None

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class FunctionStats:
    init_s: float | None = None
    first_ms: float | None = None
    warm_ms: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    tmp_mb: float = 0.0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    invocations: int = 0
    cold_starts: int = 0
    cpu: str = ""

    def summary(self) -> dict:
        return {
            "ok": not self.errors,
            "error": "; ".join(self.errors[:6]) + (f"; ... {len(self.errors) - 6} more" if len(self.errors) > 6 else ""),
            "cold_first_response_s": round(self.init_s + self.first_ms / 1000, 2) if self.init_s is not None and self.first_ms is not None else None,
            "init_s": self.init_s,
            "warm_p50_ms": round(statistics.median(self.warm_ms), 1) if self.warm_ms else None,
            "peak_rss_mb": self.peak_rss_mb, "tmp_mb": self.tmp_mb, "invocations": self.invocations, "cold_starts": self.cold_starts,
            "cpu_cap": self.cpu, "notes": self.notes,
        }


class Gateway:
    def __init__(self, stack, layout, runtime: Path, endpoint: str, keys: dict[str, str], isolated: bool, logs: Path,
                 cpu_cap: bool = True, tag: str = "cc") -> None:
        self.stack, self.layout, self.runtime, self.endpoint = stack, layout, runtime, endpoint
        self.keys, self.isolated, self.logs, self.cpu_cap, self.tag = keys, isolated, logs, cpu_cap, tag
        self.sandboxes: dict[str, Sandbox] = {}
        self.cgroups: dict[str, Path | None] = {}
        self.stats: dict[str, FunctionStats] = {name: FunctionStats() for name in stack.functions}
        self.xray: dict[str, list[str]] = {name: [] for name in stack.functions}
        # (init s, first invoke ms, init CPU s, first invoke CPU ms) of the last invoke, when it was cold
        self.last_cold: tuple[float, float, float, float] | None = None
        self._init_s: dict[str, tuple[float, float]] = {}
        logs.mkdir(parents=True, exist_ok=True)

    def function_name(self, fn: str) -> str:
        return self.stack.functions[fn].function_name

    # -- sandboxes ------------------------------------------------------------------------------
    def _start(self, fn: str) -> tuple[Sandbox | None, str | None]:
        spec = self.stack.functions[fn]
        stats = self.stats[fn]
        procs, why = (None, "CPU cap off (--no-cpu-cap)")
        if self.cpu_cap:
            procs, why = cpu_cgroup(f"{self.tag}-{fn}", spec.memory_mb)
        self.cgroups[fn] = procs
        stats.cpu = why
        box = Sandbox(self.layout, spec, self.function_name(fn), self.runtime, self.endpoint, self.keys[fn], self.isolated, procs,
                      self.logs / f"{fn}.log")
        stats.cold_starts += 1
        first = box.recv(timeout=max(60.0, spec.timeout_s))  # init: Lambda allows 10 s, then retries it inside the invoke
        if first is None or "exited" in first or "init_error" in first:
            detail = "no answer" if first is None else first.get("init_error") or f"exited with {first.get('exited')}"
            box.kill()
            self.xray[fn] += box.xray.segments
            return None, f"init failed: {_last_line(detail)}"
        stats.init_s = first["init_s"] if stats.init_s is None else stats.init_s
        self._init_s[fn] = (first["init_s"], first.get("init_cpu_s", 0.0))
        if first["init_s"] > 10:  # a note, not a failure: on a shared CI machine wall time says little
            stats.notes.append(f"init took {first['init_s']:.1f} s (Lambda allows 10 s, then retries init inside the first invoke)")
        self.sandboxes[fn] = box
        return box, None

    def stop(self, fn: str) -> None:
        box = self.sandboxes.pop(fn, None)
        if box is not None:
            box.kill()
            self.xray[fn] += box.xray.segments
        remove_cgroup(self.cgroups.pop(fn, None))

    def stop_all(self) -> None:
        for fn in list(self.sandboxes):
            self.stop(fn)

    # -- invoking -------------------------------------------------------------------------------
    def invoke(self, fn: str, event: dict, timeout_s: float | None = None) -> tuple[dict | None, str | None, float]:
        """(answer, error, ms): one synchronous invocation of ``fn``."""
        spec = self.stack.functions[fn]
        stats = self.stats[fn]
        raw = json.dumps(event)
        if len(raw.encode()) > PAYLOAD_LIMIT:
            return None, f"413 RequestEntityTooLargeException: event of {len(raw.encode()):,} bytes exceeds Lambda's 6 MB", 0.0
        self.last_cold = None
        box = self.sandboxes.get(fn)
        cold = box is None
        if cold:
            box, err = self._start(fn)
            if box is None:
                stats.errors.append(err)
                return None, err, 0.0
        timeout = min(spec.timeout_s, timeout_s or spec.timeout_s)
        request_id = str(uuid.uuid4())
        trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"
        box.send({"event": event, "request_id": request_id, "trace_id": trace, "timeout_ms": timeout * 1000})
        start = time.perf_counter()
        answer = box.recv(timeout=timeout)
        ms = (time.perf_counter() - start) * 1000
        stats.invocations += 1
        if answer is None or "exited" in answer:
            self.stop(fn)  # Lambda discards a sandbox that timed out or crashed
            what = f"timed out after {timeout:.0f} s" if answer is None else f"runtime exited ({answer['exited']})"
            return None, what, ms
        stats.peak_rss_mb = max(stats.peak_rss_mb, answer.get("rss_mb", 0))
        stats.tmp_mb = max(stats.tmp_mb, answer.get("tmp_mb", 0))
        if cold:
            stats.first_ms = answer["ms"] if stats.first_ms is None else stats.first_ms
            init_s, init_cpu_s = self._init_s[fn]
            self.last_cold = (init_s, answer["ms"], init_cpu_s, answer.get("cpu_ms", 0.0))
        else:
            stats.warm_ms.append(answer["ms"])
        if "error" in answer:
            return None, f"function error {answer['error']}", ms
        if answer.get("response_bytes", 0) > PAYLOAD_LIMIT:
            return None, f"response of {answer['response_bytes']:,} bytes exceeds Lambda's 6 MB", ms
        return answer["response"], None, ms

    def request(self, method: str, path: str, body=None, *, token: str | None = None, headers: dict | None = None,
                query: dict | None = None, timeout_s: float | None = None, content_type: str = "application/json") -> Reply:
        route = self.stack.route(method, path)
        if route is None:
            return Reply(404, {}, b'{"message":"Not Found"}', 0.0, "-")
        fn = route.function
        raw = body if isinstance(body, (bytes, bytearray)) or body is None else json.dumps(body).encode()
        event = http_event(method, path, raw, route, token=token, headers=headers, query=query, content_type=content_type)
        limit = min(API_TIMEOUT_S, route.timeout_ms / 1000, timeout_s or API_TIMEOUT_S)
        response, error, ms = self.invoke(fn, event, timeout_s=limit)
        if error:
            status = 413 if error.startswith("413") else 504 if "timed out" in error else 502 if "6 MB" in error else 500
            return Reply(status, {}, b'{"message":"Internal Server Error"}', ms, fn, error=error)
        return _to_reply(response, ms, fn)


def _last_line(text: str) -> str:
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[-1][:400] if lines else str(text)[:400]


def http_event(method: str, path: str, raw: bytes | None, route, *, token=None, headers=None, query=None,
               content_type="application/json") -> dict:
    hdrs = {"host": HOST, "user-agent": "cloud-check", "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https",
            "x-forwarded-port": "443", "accept": "application/json"}
    if raw is not None:
        hdrs["content-type"] = content_type
        hdrs["content-length"] = str(len(raw))
    if token:
        hdrs["authorization"] = f"Bearer {token}"
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    qs = urlencode(query or {})
    route_key = "$default" if route.path == "$default" else f"{route.method} {route.path}"
    params = _path_params(route.path, path)
    event = {
        "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": qs, "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012", "apiId": "cc0api", "domainName": HOST, "domainPrefix": "cc0api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "cloud-check"},
            "requestId": uuid.uuid4().hex[:16], "routeKey": route_key, "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()), "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = {k: str(v) for k, v in query.items()}
    if params:
        event["pathParameters"] = params
    if raw is not None:
        event["body"] = base64.b64encode(raw).decode()
        event["isBase64Encoded"] = True
    return event


def _path_params(pattern: str, path: str) -> dict:
    if pattern == "$default":
        return {}
    out = {}
    pp, sp = pattern.strip("/").split("/"), path.strip("/").split("/")
    for i, part in enumerate(pp):
        if part.endswith("+}"):
            out[part[1:-2]] = "/".join(sp[i:])
        elif part.startswith("{"):
            out[part[1:-1]] = sp[i]
    return out


def _to_reply(response, ms: float, fn: str) -> Reply:
    if not isinstance(response, dict) or "statusCode" not in response:  # payload 2.0: a bare value is a 200 JSON body
        return Reply(200, {"content-type": "application/json"}, json.dumps(response).encode(), ms, fn)
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    return Reply(int(response["statusCode"]), headers, raw, ms, fn)
