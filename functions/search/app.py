"""Semantic search: ``POST /api/v1/memories/search`` (writes only access records and an app's first-use entry; never deletes).

Thin: the shared ASGI app (REST + MCP) under Mangum, built once per container and reused
while warm; the replicas it syncs stay in memory, checkpoint files in /tmp. Request and
response bodies are never logged or traced.
"""

from membucket.aws import http_handler

lambda_handler = http_handler("search", latency_metric="SearchLatency")
APP = lambda_handler.app
