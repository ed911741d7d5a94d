"""The access log names paths, never query strings: a query can carry search text or a token a
client wrongly sent as ``?token=``, and log files outlive both."""

from __future__ import annotations

import logging

__all__ = ["StripQuery", "server_config"]


def strip_query(target: object) -> object:
    return target.split("?", 1)[0] if isinstance(target, str) else target


class StripQuery(logging.Filter):
    """Drops the query string from uvicorn's access lines (args: client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3:
            record.args = (*args[:2], strip_query(args[2]), *args[3:])
        return True


def server_config(app, host: str, port: int, log_level: str = "info", **kwargs):
    """A uvicorn Config whose access logger drops query strings (Config sets logging up, so the
    filter goes on after it)."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, **kwargs)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, StripQuery) for f in access.filters):
        access.addFilter(StripQuery())
    return config
