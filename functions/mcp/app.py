"""MCP over streamable HTTP: ``/mcp`` and ``/mcp/{client}/http/{user}`` (stateless, JSON responses).

Thin: the shared ASGI app (REST + MCP) under Mangum, built once per container and reused
while warm; the replicas it syncs stay in memory, checkpoint files in /tmp. Request and
response bodies are never logged or traced.
"""

from aws_lambda_powertools.logging import correlation_paths

from membucket.lambda_support import http_app, logger, metrics, serve_http, tracer

APP = http_app()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event, context):
    return serve_http(APP, event, context, function="mcp")
