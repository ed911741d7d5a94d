"""The Lambda handler glue, for AWS alone: what every entry point in ``functions/`` shares, so each stays a few lines.

- ``observe``: Powertools logger, metrics and tracer; per-invocation metrics.
- ``handlers``: the Membucket from settings (offline model from the bucket, Secrets Manager
  key), the shared ASGI app under Mangum, one HTTP invocation, the HTTP handler.
- ``scheduled``: the maintenance function's handler.
- ``credentials``: the OpenAI-compatible key from Secrets Manager.

Gateway identity lives with auth (``membucket.auth.gateway``), the model kept in the bucket
with embed (``membucket.embed.s3_model``).
"""

from .handlers import export_app, http_app, http_handler, json_response, make_membucket, mcp_app, serve_http
from .observe import configure_logging, invocation_metrics, logger, metrics, tracer
from .scheduled import maintenance_handler

__all__ = [
    "logger", "metrics", "tracer", "configure_logging", "invocation_metrics",
    "make_membucket", "http_app", "mcp_app", "export_app", "http_handler", "serve_http", "json_response",
    "maintenance_handler",
]
