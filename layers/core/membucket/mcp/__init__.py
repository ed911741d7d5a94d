"""The MCP endpoint: memory tools over streamable HTTP, sessionless, JSON responses (and
OpenMemory's legacy SSE URLs, with in-process sessions, on a long-lived server)."""

from .server import build_mcp_server, mount_mcp
from .sse import mount_sse

__all__ = ["build_mcp_server", "mount_mcp", "mount_sse"]
