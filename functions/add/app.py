"""Add a memory: ``POST /api/v1/memories`` (embeds the text, then commits one log entry).

Thin: the shared ASGI app (REST + MCP) under Mangum, built once per container and reused
while warm; the replicas it syncs stay in memory, checkpoint files in /tmp. Request and
response bodies are never logged or traced.
"""

from membucket.aws import http_handler

lambda_handler = http_handler("add")
APP = lambda_handler.app
