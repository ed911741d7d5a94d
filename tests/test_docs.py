"""Docs stay honest: every CLI command and every MCP tool is in the README."""

from __future__ import annotations

import asyncio
from pathlib import Path

from membucket.cli import cli
from membucket.mcp.server import build_mcp_server

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_cli_command_is_in_the_readme():
    missing = []
    for name, cmd in cli.commands.items():
        if hasattr(cmd, "commands"):
            missing += [f"{name} {sub}" for sub in cmd.commands if f"{name} {sub}" not in README and f"{name} " not in README]
        elif f"membucket {name}" not in README:
            missing.append(name)
    assert not missing, f"README lacks: {missing}"


def test_every_mcp_tool_is_in_the_readme_and_described():
    tools = asyncio.run(build_mcp_server().list_tools())
    assert tools
    for tool in tools:
        assert f"`{tool.name}(" in README, tool.name
        assert tool.description and len(tool.description) > 30, tool.name
        for prop, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{tool.name}.{prop} has no description"
