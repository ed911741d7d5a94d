"""The app every HTTP function serves, built once per container, and the per-invocation wrapper.

- ``http_app()``: Mangum over the one ASGI app (REST ``/api/v1`` + MCP ``/mcp``), built once per
  container at import and reused while warm. Auth is always on: membucket bearer tokens, or, with
  ``Settings.lambda_auth == "jwt"``, the claims API Gateway's JWT authorizer verified
  (``membucket.auth.gateway``).
- The replica cache: replicas live in the process-wide registry (in memory, warm across
  invocations); downloaded checkpoint files are cached under ``/tmp`` (``Settings.cache_dir``).
  A cold container fetches the checkpoint named by ``CHECKPOINT``, then the log tail.
- ``serve_http()``: one HTTP invocation, with per-invocation metrics (EMF): ``Latency`` (or
  ``SearchLatency``), ``Commits``, ``CommitConflicts``, ``CommitRetries``, ``ReplicaCacheHits``.
- The offline model comes from the bucket when ``Settings.model_url`` is set
  (``membucket.embed.s3_model``), which keeps the zip under Lambda's 250 MB limit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..auth.gateway import GatewayTokenStore, verified_claims
from ..client import Membucket
from ..embed.s3_model import S3ModelEmbedder
from ..settings import Settings
from ..store import open_store
from ..store.s3 import require_conditional_writes
from .credentials import load_openai_secret
from .observe import configure_logging, invocation_metrics, logger, metrics, tracer

if TYPE_CHECKING:
    from ..engine.namespace import ReplicaRegistry

# At init, not on every write: a runtime SDK too old for S3 conditional writes (botocore before
# 1.35.69) fails the container's start with a message naming the version needed.
require_conditional_writes()

__all__ = ["make_membucket", "http_app", "mcp_app", "export_app", "serve_http", "http_handler", "json_response"]


def _build_state():
    from ..http.serve import build_state

    return build_state


def make_membucket(settings: Settings | None = None, registry: ReplicaRegistry | None = None) -> Membucket:
    """A Membucket from ``MEMBUCKET_*``; the offline model comes from the bucket when configured."""
    settings = settings or Settings()
    embedder = None
    if settings.model_url and settings.embedder == "minilm":
        model_store = open_store(settings.model_url, endpoint_url=settings.endpoint_url, region=settings.region)
        embedder = S3ModelEmbedder(model_store, Path(settings.cache_dir) / "model", threads=settings.embed_threads,
                                   precision=settings.model_precision)
    load_openai_secret(settings)
    return Membucket(settings, embedder=embedder, registry=registry)


def http_app(mb: Membucket | None = None, factory=None):
    """Mangum over the shared ASGI app (or ``factory(state)``), with bearer tokens (or API Gateway's JWT claims) required."""
    from mangum import Mangum

    mb = mb or make_membucket()
    state = _build_state()(mb, "0.0.0.0", auth=True)
    if mb.settings.lambda_auth == "jwt":
        state.tokens = GatewayTokenStore(mb.store, user_claim=mb.settings.jwt_user_claim)
        state.oauth = None  # the operator's identity provider signs clients in, not membucket
        state.oauth_issuer = mb.settings.jwt_issuer
    configure_logging()
    if factory is None:
        from ..http.app import create_app

        app = create_app(state, sse_sessions=False)
    else:
        app = factory(state)
    return Mangum(app, lifespan="off", api_gateway_base_path="/")


def mcp_app(mb: Membucket | None = None):
    """The MCP function's app: the MCP routes alone (``http/mcp_app.py``), so a cold start skips the REST routers."""
    from ..http.mcp_app import create_mcp_app

    return http_app(mb, factory=create_mcp_app)


def export_app(mb: Membucket | None = None):
    """The export function's app: bundles go to ``Settings.export_store``, answers are presigned URLs."""
    from ..http.export import create_export_app

    mb = mb or make_membucket()
    url = mb.settings.export_store
    store = open_store(url, endpoint_url=mb.settings.endpoint_url, region=mb.settings.region) if url else None
    return http_app(mb, factory=lambda state: create_export_app(state, store, mb.settings.export_url_seconds))


def serve_http(app, event: dict, context: Any, function: str, latency_metric: str = "Latency") -> dict:
    """Run one API Gateway (HTTP API, payload 2.0) event through the app; log one line, no bodies."""
    claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims")
    with verified_claims(claims), invocation_metrics(function, latency_metric) as done:
        response = app(event, context)
    http = (event.get("requestContext") or {}).get("http") or {}
    logger.info("request", extra={
        "method": http.get("method"), "path": (event.get("rawPath") or "").split("?", 1)[0], "status": response.get("statusCode"),
        "latency_ms": round(done["ms"], 2), "function": function,
    })
    return response


def http_handler(function: str, latency_metric: str = "Latency", app=None):
    """The Lambda handler of an HTTP function: the shared app under Mangum, built once per
    container, with Powertools' correlation id, tracing (responses not captured) and EMF metrics.
    The app is ``handler.app``, for tests that check routes."""
    from aws_lambda_powertools.logging import correlation_paths

    app = app or http_app()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event, context):
        return serve_http(app, event, context, function=function, latency_metric=latency_metric)

    lambda_handler.app = app
    return lambda_handler


def json_response(status: int, body: dict) -> dict:
    """An HTTP API (payload 2.0) response in the API's JSON shape."""
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body), "isBase64Encoded": False}
