"""What every Lambda entry point in ``functions/`` shares, so each handler stays a few lines.

- ``logger``, ``metrics``, ``tracer``: Powertools, configured by the environment the template
  sets (``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``). The library's stdlib
  loggers (``membucket.*``, ``mangum``, ``mcp``) are given the same JSON handler, so an engine
  warning carries the request's correlation id. Request and response bodies are never logged
  or traced: they hold memory text.
- ``http_app()``: Mangum over the one ASGI app (REST ``/api/v1`` + MCP ``/mcp``), built once per
  container at import and reused while warm. Auth is always on.
- The replica cache: replicas live in the process-wide registry (in memory, warm across
  invocations); downloaded checkpoint files are cached under ``/tmp`` (``Settings.cache_dir``).
  A cold container fetches the checkpoint named by ``CHECKPOINT``, then the log tail.
- ``serve_http()``: one HTTP invocation, with per-invocation metrics (EMF): ``Latency`` (or
  ``SearchLatency``), ``Commits``, ``CommitConflicts``, ``CommitRetries``, ``ReplicaCacheHits``.
- The offline model from the bucket: with ``MEMBUCKET_MODEL_URL`` set (``s3://bucket/prefix/
  models/all-MiniLM-L6-v2``), the weights are fetched to ``/tmp`` on the first embed of a
  container, checked against the manifest ``publish_model`` wrote, and loaded from there. Functions
  that never embed (state, list) never fetch. This keeps the zip under Lambda's 250 MB limit.
- JWT mode (``MEMBUCKET_LAMBDA_AUTH=jwt``): API Gateway's JWT authorizer has verified the token
  before the function runs; the caller is read from its claims (``MEMBUCKET_JWT_USER_CLAIM``,
  scopes from ``scope``/``scp``). Only API Gateway may invoke the functions (the template's
  Lambda permissions), so the claims cannot be forged by a client.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from .auth import Identity, InvalidToken, TokenStore
from .auth.identity import SCOPES
from .client import Membucket
from .embed.base import EmbedderUnavailable
from .engine.keys import validate_user_id
from .engine.namespace import REGISTRY, STATS, ReplicaRegistry
from .settings import Settings
from .store import NotFound, ObjectStore, open_store

__all__ = [
    "logger", "metrics", "tracer", "configure_logging", "make_membucket", "http_app", "export_app", "http_handler", "serve_http",
    "invocation_metrics", "json_response", "GatewayTokenStore", "identity_from_claims",
    "publish_model", "fetch_model", "S3ModelEmbedder", "MODEL_FILES",
]

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "membucket"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "membucket"))
tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "membucket"))

MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors")
MANIFEST = "manifest.json"


def configure_logging() -> None:
    """Give the library's and the adapters' stdlib loggers the Powertools JSON handler."""
    copy_config_to_registered_loggers(source_logger=logger, include={"membucket", "mangum", "mcp"})
    logging.getLogger("mangum").setLevel(logging.WARNING)  # serve_http logs one line per request


# -- building the app, once per container ------------------------------------------------------
def make_membucket(settings: Settings | None = None, registry: ReplicaRegistry | None = None) -> Membucket:
    """A Membucket from ``MEMBUCKET_*``; the offline model comes from the bucket when configured."""
    settings = settings or Settings()
    embedder = None
    model_url = os.environ.get("MEMBUCKET_MODEL_URL")
    if model_url and settings.embedder == "minilm":
        model_store = open_store(model_url, endpoint_url=settings.endpoint_url, region=settings.region)
        embedder = S3ModelEmbedder(model_store, Path(settings.cache_dir) / "model")
    _load_openai_secret()
    return Membucket(settings, embedder=embedder, registry=registry)


def http_app(mb: Membucket | None = None, factory=None):
    """Mangum over the shared ASGI app (or ``factory(state)``), with bearer tokens (or API Gateway's JWT claims) required."""
    from mangum import Mangum

    from .http.app import create_app
    from .http.serve import build_state

    mb = mb or make_membucket()
    state = build_state(mb, "0.0.0.0", auth=True)
    if os.environ.get("MEMBUCKET_LAMBDA_AUTH", "tokens") == "jwt":
        state.tokens = GatewayTokenStore(mb.store, user_claim=os.environ.get("MEMBUCKET_JWT_USER_CLAIM", "sub"))
    configure_logging()
    return Mangum((factory or create_app)(state), lifespan="off", api_gateway_base_path="/")


def export_app(mb: Membucket | None = None):
    """The export function's app: bundles go to ``MEMBUCKET_EXPORT_STORE``, answers are presigned URLs."""
    from .http.export import create_export_app

    mb = mb or make_membucket()
    url = os.environ.get("MEMBUCKET_EXPORT_STORE")
    store = open_store(url, endpoint_url=mb.settings.endpoint_url, region=mb.settings.region) if url else None
    return http_app(mb, factory=lambda state: create_export_app(state, store, mb.settings.export_url_seconds))


def serve_http(app, event: dict, context: Any, function: str, latency_metric: str = "Latency") -> dict:
    """Run one API Gateway (HTTP API, payload 2.0) event through the app; log one line, no bodies."""
    claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims")
    token = _CLAIMS.set(claims)
    try:
        with invocation_metrics(function, latency_metric) as done:
            response = app(event, context)
    finally:
        _CLAIMS.reset(token)
    http = (event.get("requestContext") or {}).get("http") or {}
    logger.info("request", extra={
        "method": http.get("method"), "path": event.get("rawPath"), "status": response.get("statusCode"),
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


# -- metrics -------------------------------------------------------------------------------------
def _counters(registry: ReplicaRegistry) -> dict[str, int]:
    # The registry keeps no public iterator; a container serves one invocation at a time, so a
    # snapshot before and after gives this invocation's numbers (evicted replicas clamp to 0).
    replicas = registry.replicas()
    return {
        "Commits": STATS.commits,
        "CommitConflicts": STATS.conflicts,
        "CommitRetries": STATS.in_flight_retries + STATS.transport_retries,
        "ReplicaCacheHits": sum(r.cache_hits for r in replicas),
    }


@contextmanager
def invocation_metrics(function: str, latency_metric: str = "Latency", registry: ReplicaRegistry = REGISTRY) -> Iterator[dict]:
    """Add this invocation's latency and engine counters to ``metrics`` (flushed by ``log_metrics``)."""
    before = _counters(registry)
    done: dict[str, float] = {"ms": 0.0}
    start = time.perf_counter()
    try:
        yield done
    finally:
        done["ms"] = (time.perf_counter() - start) * 1000
        metrics.add_dimension(name="function", value=function)
        metrics.add_metric(name=latency_metric, unit=MetricUnit.Milliseconds, value=done["ms"])
        for name, value in _counters(registry).items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=max(0, value - before[name]))


# -- JWT authorizer claims -----------------------------------------------------------------------
_CLAIMS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("membucket_jwt_claims", default=None)


def identity_from_claims(claims: dict, user_claim: str = "sub") -> Identity:
    """The caller named by verified JWT claims: the user from ``user_claim``, scopes from ``scope``/``scp``.

    A scope counts when its last ``/`` or ``:`` part is read, write or admin (``membucket/write``,
    ``membucket:admin``); a token with none of those gets ``write``.
    """
    user = claims.get(user_claim)
    if not isinstance(user, str):
        raise InvalidToken(f"the token has no {user_claim!r} claim")
    raw = claims.get("scope") or claims.get("scp") or ""
    names = raw.split() if isinstance(raw, str) else list(raw)
    scopes = {n.replace(":", "/").rsplit("/", 1)[-1] for n in names} & set(SCOPES)
    return Identity(user=validate_user_id(user), app=None, scopes=frozenset(scopes or {"write"}))


class GatewayTokenStore(TokenStore):
    """Tokens verified by API Gateway's JWT authorizer: the claims of the current request decide."""

    def __init__(self, store: ObjectStore, user_claim: str = "sub", cache_seconds: float = 10.0) -> None:
        super().__init__(store, cache_seconds=cache_seconds)
        self.user_claim = user_claim

    def verify(self, token: str) -> Identity:
        claims = _CLAIMS.get()
        if not claims:
            raise InvalidToken("no verified JWT claims on this request (the API's JWT authorizer must run first)")
        return identity_from_claims(claims, self.user_claim)


# -- the offline model, kept in the bucket -------------------------------------------------------
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def publish_model(model_dir: Path | str, store: ObjectStore) -> dict:
    """Upload the model files and their manifest (sizes, sha256) to ``store``; return the manifest."""
    model_dir = Path(model_dir)
    manifest = {"files": {n: {"size": (model_dir / n).stat().st_size, "sha256": _sha256(model_dir / n)} for n in MODEL_FILES}}
    for name in MODEL_FILES:
        store.put(name, (model_dir / name).read_bytes())
    store.put(MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest


def fetch_model(store: ObjectStore, dest: Path | str) -> Path:
    """Download the model into ``dest`` unless it is already there intact; return ``dest``.

    Raises EmbedderUnavailable when the bucket has no model or a file does not match the manifest.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        manifest = json.loads(store.get(MANIFEST).body)
    except NotFound:
        raise EmbedderUnavailable(f"no model at {store.url}: run infra/publish_model.py first") from None
    for name, want in manifest["files"].items():
        path = dest / name
        if path.is_file() and path.stat().st_size == want["size"] and (dest / f".{name}.ok").is_file():
            continue
        download = getattr(store, "download", None)
        if download is not None:
            download(name, path)
        else:
            path.write_bytes(store.get(name).body)
        if path.stat().st_size != want["size"] or _sha256(path) != want["sha256"]:
            path.unlink()
            raise EmbedderUnavailable(f"model file {name} from {store.url} does not match its manifest")
        (dest / f".{name}.ok").touch()
    return dest


class S3ModelEmbedder:
    """all-MiniLM-L6-v2 whose weights are fetched from the bucket on the first embed of a container."""

    def __init__(self, store: ObjectStore, dest: Path) -> None:
        from .embed.minilm import MODEL_ID, MiniLMEmbedder

        self.id, self.dim = MODEL_ID, MiniLMEmbedder.dim
        self._store, self._dest = store, dest
        self._inner = None
        self._lock = threading.Lock()
        self.fetch_seconds: float | None = None

    def _model(self):
        with self._lock:
            if self._inner is None:
                from .embed.minilm import MiniLMEmbedder

                start = time.perf_counter()
                path = fetch_model(self._store, self._dest)
                self._inner = MiniLMEmbedder(path).load()
                self.fetch_seconds = time.perf_counter() - start
                logger.info("model ready", extra={"model": self.id, "seconds": round(self.fetch_seconds, 3)})
            return self._inner

    def embed(self, texts):
        return self._model().embed(texts)


# -- remote model credentials --------------------------------------------------------------------
def _load_openai_secret() -> None:
    """Export the API key for an OpenAI-compatible endpoint from Secrets Manager, when one is named.

    The secret is the key itself or JSON with ``api_key``. The key stays in this process's
    environment (``OPENAI_API_KEY``), never in the template or the logs.
    """
    name = os.environ.get("MEMBUCKET_OPENAI_SECRET_NAME")
    if not name or os.environ.get("OPENAI_API_KEY"):
        return
    import boto3

    value = boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    try:
        value = json.loads(value)["api_key"]
    except (ValueError, TypeError, KeyError):
        pass
    os.environ["OPENAI_API_KEY"] = value

