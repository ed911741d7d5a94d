"""Powertools for every function: one JSON logger, EMF metrics, X-Ray tracing.

Configured by the environment the template sets (``POWERTOOLS_SERVICE_NAME``,
``POWERTOOLS_METRICS_NAMESPACE``). The library's stdlib loggers (``membucket.*``, ``mangum``,
``mcp``) are given the same JSON handler, so an engine warning carries the request's correlation
id. Request and response bodies are never logged or traced: they hold memory text. Nor are S3
keys: they carry user ids (``ns/<user>/...``), so the X-Ray botocore patch records only the
operation and the bucket (``_keep_keys_out_of_traces``).

The tracer is built on the first invocation, and only when tracing is on (``LazyTracer``): the
X-Ray SDK and its patches cost ~0.25 s of CPU, which Powertools' ``Tracer()`` pays at import even
when tracing is disabled, and a cold MCP container must answer ``initialize`` fast (issue 13).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from ..engine.namespace import ReplicaRegistry


__all__ = ["logger", "metrics", "tracer", "configure_logging", "invocation_metrics"]

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "membucket"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "membucket"))
_KEY_PARAMETERS = frozenset({"Key", "Prefix", "CopySource", "StartAfter", "ContinuationToken", "Delimiter"})


def _keep_keys_out_of_traces() -> None:
    """Drop S3 object keys and prefixes from what X-Ray records of each S3 call."""
    try:
        from aws_xray_sdk.ext.boto_utils import whitelist
    except ImportError:  # tracing not installed: nothing is recorded anyway
        return
    for operation in whitelist.get("services", {}).get("s3", {}).get("operations", {}).values():
        for field in ("request_parameters", "response_parameters"):
            if field in operation:
                operation[field] = [p for p in operation[field] if p not in _KEY_PARAMETERS]


def tracing_enabled() -> bool:
    """What Powertools decides: on in Lambda unless ``POWERTOOLS_TRACE_DISABLED``; off locally and in SAM local."""
    from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

    if resolve_truthy_env_var_choice(env=os.environ.get("POWERTOOLS_TRACE_DISABLED", "false")):
        return False
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL") and not os.environ.get("AWS_CHALICE_CLI_MODE")


class LazyTracer:
    """Powertools' ``Tracer``, built (X-Ray SDK imported, botocore patched, S3 keys kept out) on the
    first invocation of a handler it wraps, never when tracing is off."""

    def __init__(self) -> None:
        self._tracer: Any = None

    def real(self) -> Any:
        """The Powertools tracer, or None when tracing is off."""
        if self._tracer is None and tracing_enabled():
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "membucket"))
            _keep_keys_out_of_traces()  # before the first traced S3 call
        return self._tracer

    def capture_lambda_handler(self, capture_response: bool = False) -> Callable[[Callable], Any]:
        """Like ``Tracer.capture_lambda_handler``, decided at the first invocation."""

        def decorate(handler: Callable) -> Callable:
            wrapped: list[Callable] = []

            def lambda_handler(event, context):
                if not wrapped:
                    real = self.real()
                    wrapped.append(real.capture_lambda_handler(handler, capture_response=capture_response) if real else handler)
                return wrapped[0](event, context)

            return functools.update_wrapper(lambda_handler, handler)

        return decorate


tracer = LazyTracer()


def configure_logging() -> None:
    """Give the library's and the adapters' stdlib loggers the Powertools JSON handler."""
    copy_config_to_registered_loggers(source_logger=logger, include={"membucket", "mangum", "mcp"})
    logging.getLogger("mangum").setLevel(logging.WARNING)  # serve_http logs one line per request


_ENGINE = "membucket.engine.namespace"


def _counters(registry: ReplicaRegistry | None) -> dict[str, int]:
    # The registry keeps no public iterator; a container serves one invocation at a time, so a
    # snapshot before and after gives this invocation's numbers (evicted replicas clamp to 0).
    # Until something imports the engine (an MCP initialize needs none of it) every count is 0:
    # looking it up in sys.modules keeps this module from importing duckdb and faiss at init.
    engine = sys.modules.get(_ENGINE)
    if engine is None:
        return dict.fromkeys(("Commits", "CommitConflicts", "CommitRetries", "ReplicaCacheHits"), 0)
    stats = engine.STATS
    replicas = (registry or engine.REGISTRY).replicas()
    return {
        "Commits": stats.commits,
        "CommitConflicts": stats.conflicts,
        "CommitRetries": stats.in_flight_retries + stats.transport_retries,
        "ReplicaCacheHits": sum(r.cache_hits for r in replicas),
    }


@contextmanager
def invocation_metrics(function: str, latency_metric: str = "Latency", registry: ReplicaRegistry | None = None) -> Iterator[dict]:
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
