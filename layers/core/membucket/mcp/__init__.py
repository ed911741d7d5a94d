"""The MCP endpoint: memory tools over streamable HTTP, sessionless, JSON responses."""

from .server import build_mcp_server, mount_mcp

__all__ = ["build_mcp_server", "mount_mcp"]
