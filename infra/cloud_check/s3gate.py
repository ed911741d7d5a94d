"""moto's S3 server behind an IAM gate: every S3 request is checked against its caller's role.

    python -m infra.cloud_check.s3gate --port 0 --identities ids.json --ready ready.txt

moto keeps authentication off (it cannot evaluate the ``s3:if-none-match`` conditions the
template relies on, nor S3's 404-versus-403 rule); this gate does the IAM part instead. A
request's caller is the access key in its SigV4 ``Authorization`` header or presigned
``X-Amz-Credential``; ``ids.json`` maps keys to ``{"name", "statements"}`` (re-read when it
changes). The admin key (``"admin": true``) may do anything: it seeds the buckets.

What S3 itself does and the gate reproduces: a denied request gets ``403 AccessDenied`` with
AWS's message; a GET/HEAD of a missing key answers 404 only to a caller allowed
``s3:ListBucket`` on the bucket, 403 to anyone else. Requests to other services (Secrets
Manager) pass through unchecked.

Private endpoints for the harness: ``GET /_gate/denials`` (every denial so far),
``POST /_gate/age?seconds=N`` (moves every object's Last-Modified N seconds back, so a
garbage collection with a retention period has something old enough to delete).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import logging
import os
import re
import threading
import uuid
from pathlib import Path
from urllib.parse import parse_qs

from .iam import Check, allowed, s3_request

__all__ = ["Gate", "main"]

_CRED = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/")


class Gate:
    """WSGI middleware: IAM decisions in front of moto's app."""

    def __init__(self, app, identities_path: Path) -> None:
        self.app = app
        self.path = identities_path
        self._mtime = None
        self._ids: dict = {}
        self.denials: list[dict] = []
        self._lock = threading.Lock()

    def identities(self) -> dict:
        mtime = self.path.stat().st_mtime_ns
        if mtime != self._mtime:
            self._ids, self._mtime = json.loads(self.path.read_text()), mtime
        return self._ids

    @staticmethod
    def caller(environ) -> tuple[str | None, str | None]:
        m = _CRED.search(environ.get("HTTP_AUTHORIZATION", ""))
        if m:
            return m.group(1), m.group(2)
        q = parse_qs(environ.get("QUERY_STRING", ""))
        cred = (q.get("X-Amz-Credential") or [""])[0].split("/")
        return (cred[0], cred[3]) if len(cred) >= 4 else (None, None)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_gate/"):
            return self._private(environ, start_response, path)
        key, service = self.caller(environ)
        if service != "s3":
            return self.app(environ, start_response)
        ident = self.identities().get(key or "")
        if ident is None:
            return _error(start_response, environ, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        if ident.get("admin"):
            return self.app(environ, start_response)
        body = None
        if environ["REQUEST_METHOD"] == "POST" and "delete" in environ.get("QUERY_STRING", ""):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        checks = s3_request(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), headers, body)
        for check in checks:
            if not allowed(ident["statements"], check):
                with self._lock:
                    self.denials.append({"function": ident["name"], "action": check.action, "resource": check.resource,
                                         "method": environ["REQUEST_METHOD"], "path": path, "context": check.context})
                role = f"arn:aws:sts::123456789012:assumed-role/{ident['name']}Role/{ident['name']}"
                return _error(start_response, environ, "AccessDenied",
                              f"User: {role} is not authorized to perform: {check.action} on resource: \"{check.resource}\" "
                              "because no identity-based policy allows the action")
        if environ["REQUEST_METHOD"] in ("GET", "HEAD") and checks and checks[0].action in ("s3:GetObject", "s3:GetObjectVersion"):
            bucket = checks[0].resource.split(":::", 1)[1].split("/", 1)[0]
            if not allowed(ident["statements"], Check("s3:ListBucket", f"arn:aws:s3:::{bucket}")):
                return self._hide_404(environ, start_response)
        return self.app(environ, start_response)

    def _hide_404(self, environ, start_response):
        """S3 answers 403, not 404, for a missing key to a caller without s3:ListBucket."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = list(self.app(environ, capture))
        if captured["status"].startswith("404"):
            return _error(start_response, environ, "AccessDenied", "Access Denied")
        start_response(captured["status"], captured["headers"])
        return chunks

    def _private(self, environ, start_response, path):
        if path == "/_gate/denials":
            with self._lock:
                payload = json.dumps(self.denials).encode()
        elif path == "/_gate/age":
            seconds = float(parse_qs(environ.get("QUERY_STRING", ""))["seconds"][0])
            payload = json.dumps({"aged": _age_objects(seconds)}).encode()
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"unknown gate endpoint"]
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def _error(start_response, environ, code: str, message: str):
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>").encode()
    status = "403 Forbidden"
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


def _age_objects(seconds: float) -> int:
    from moto.s3.models import s3_backends

    delta = datetime.timedelta(seconds=seconds)
    n = 0
    for account in list(s3_backends.keys()):
        backend = s3_backends[account]["aws"]
        for bucket in backend.buckets.values():
            for _, versions in bucket.keys.iterlists():
                for key in versions:
                    key.last_modified = key.last_modified - delta
                    n += 1
    return n


def main(argv: list[str] | None = None) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--identities", type=Path, required=True)
    ap.add_argument("--ready", type=Path, required=True, help="the port is written here once the server listens")
    args = ap.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    gate = Gate(DomainDispatcherApplication(create_backend_app), args.identities)
    server = make_server("127.0.0.1", args.port, gate, threaded=True)
    tmp = args.ready.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    os.replace(tmp, args.ready)
    server.serve_forever()


if __name__ == "__main__":
    main()
