"""MCP over streamable HTTP: ``/mcp`` and ``/mcp/{client}/http/{user}`` (stateless, JSON responses).

Thin: the MCP routes of the shared ASGI app (``mcp_app``: no REST routers to import at a cold
start) under Mangum, built once per container and reused while warm; the replicas it syncs stay
in memory, checkpoint files in /tmp. Request and response bodies are never logged or traced.
"""

from membucket.aws import http_handler, mcp_app

lambda_handler = http_handler("mcp", app=mcp_app())
APP = lambda_handler.app
