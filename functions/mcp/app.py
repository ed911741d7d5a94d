"""MCP over streamable HTTP: ``/mcp`` and ``/mcp/{client}/http/{user}`` (stateless, JSON responses).

Thin: the shared ASGI app (REST + MCP) under Mangum, built once per container and reused
while warm; the replicas it syncs stay in memory, checkpoint files in /tmp. Request and
response bodies are never logged or traced.
"""

from membucket.aws import http_handler

lambda_handler = http_handler("mcp")
APP = lambda_handler.app
