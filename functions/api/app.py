"""The rest of REST (``/api/v1/...``, ``/docs``, ``/openapi.json``): the HTTP API's ``$default`` route.

Thin: the shared ASGI app (REST + MCP) under Mangum, built once per container and reused
while warm; the replicas it syncs stay in memory, checkpoint files in /tmp. Request and
response bodies are never logged or traced.
"""

from membucket.aws import http_handler

lambda_handler = http_handler("api")
APP = lambda_handler.app
