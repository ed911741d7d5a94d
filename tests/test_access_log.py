"""Access log lines name the path only: search text or a token sent as ``?token=`` never reaches a log."""

from __future__ import annotations

import logging
import threading
import time

import httpx
from membucket.http.access_log import server_config

from tests.support.live import free_port


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def _app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_the_serve_access_log_drops_query_strings():
    import uvicorn

    port = free_port()
    server = uvicorn.Server(server_config(_app, "127.0.0.1", port, "info", lifespan="off"))
    lines = _Lines()
    access = logging.getLogger("uvicorn.access")
    access.addHandler(lines)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/memories", params={"q": "my secret diagnosis", "token": "mb_secret"})
        assert r.status_code == 200
        deadline = time.monotonic() + 5
        while not lines.lines and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        access.removeHandler(lines)
    assert any("/api/v1/memories" in line for line in lines.lines), lines.lines
    assert not any("secret" in line or "?" in line for line in lines.lines), lines.lines
