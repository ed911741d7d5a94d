"""Run one Lambda function in this process, as a cold container would, and time it.

Standalone on purpose (standard library only): it runs under whatever interpreter and
PYTHONPATH the caller picks, e.g. python3.12 over a `sam build` output (function dir + layers +
a directory standing in for the runtime's boto3), or the dev venv. Used by
infra/bundle_size.py --smoke and infra/bench_functions.py.

Input: a JSON plan file (argv[1]):

    {"function_dir": "...", "result": "out.json",
     "calls": [{"http": ["POST", "/api/v1/memories/search", {"query": "x"}], "token": "mb_...",
                "repeat": 3, "bodies": [{"query": "a"}, {"query": "b"}, {"query": "c"}]},
               {"event": {"tasks": ["compact"]}}]}

Output: JSON in ``result``: import seconds (module import + the app built at import, i.e. the
init phase), then per call its status codes and milliseconds. Function logs go to stdout.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid


class Context:
    function_name = "membucket-driver"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:membucket-driver"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def __init__(self, seconds: float = 900.0) -> None:
        self._deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def http_event(method: str, path: str, body=None, token: str | None = None, headers: dict | None = None) -> dict:
    raw = None if body is None else json.dumps(body).encode()
    host = "abc123.execute-api.us-east-1.amazonaws.com"
    hdrs = {"host": host, "content-type": "application/json", "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2025-06-18", **(headers or {})}
    if token:
        hdrs["authorization"] = f"Bearer {token}"
    if raw is not None:
        hdrs["content-length"] = str(len(raw))
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": host, "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "driver"},
            "requestId": uuid.uuid4().hex, "routeKey": "$default", "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000", "timeEpoch": 1795608000000,
        },
        "body": base64.b64encode(raw).decode() if raw is not None else None,
        "isBase64Encoded": raw is not None,
    }


def main(plan_path: str) -> None:
    plan = json.loads(open(plan_path, encoding="utf-8").read())
    start = time.perf_counter()
    sys.path.insert(0, plan["function_dir"])
    import app  # noqa: E402  - the function's module, as the runtime imports it

    result = {"import_seconds": round(time.perf_counter() - start, 4), "python": sys.version.split()[0], "calls": []}
    for call in plan.get("calls", []):
        statuses, ms, kept = [], [], []
        for i in range(call.get("repeat", 1)):
            if "http" in call:
                method, path, body = call["http"]
                if "bodies" in call:  # one body per repeat
                    body = call["bodies"][i % len(call["bodies"])]
                event = http_event(method, path, body, call.get("token"))
            else:
                event = call["event"]
            t = time.perf_counter()
            resp = app.lambda_handler(event, Context())
            ms.append(round((time.perf_counter() - t) * 1000, 3))
            statuses.append(resp.get("statusCode", 200) if isinstance(resp, dict) else 200)
            if call.get("keep_body") and isinstance(resp, dict):
                raw = resp.get("body") or ""
                kept.append(base64.b64decode(raw).decode() if resp.get("isBase64Encoded") else raw)
        result["calls"].append({"name": call.get("name", ""), "status": statuses, "ms": ms, **({"bodies": kept} if kept else {})})
    with open(plan["result"], "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
