"""Synthetic AWS events: API Gateway HTTP API (payload v2.0) requests, and a fake Lambda context."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass


@dataclass
class FakeContext:
    function_name: str = "membucket-test"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:membucket-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def http_event(method: str, path: str, body=None, headers: dict | None = None, query: str = "", host: str = "abc123.execute-api.us-east-1.amazonaws.com") -> dict:
    raw = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    if isinstance(raw, str):
        raw = raw.encode()
    hdrs = {"host": host, "content-type": "application/json", "accept": "application/json, text/event-stream"}
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    if raw is not None:
        hdrs["content-length"] = str(len(raw))
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": host,
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795608000000,
        },
        "body": base64.b64encode(raw).decode() if raw is not None else None,
        "isBase64Encoded": raw is not None,
    }


def response_json(resp: dict):
    body = resp.get("body") or ""
    if resp.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body) if body else None
