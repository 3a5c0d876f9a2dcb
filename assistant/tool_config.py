"""The tool tables of config.toml: MCP servers to plug in and tools that need no approval.

    [mcp.servers.files]                  # a stdio server: Throughline starts it on first use
    command = "npx"
    args = ["-y", "@modelcontextprotocol/server-filesystem", "/home/ana/notes"]
    env = { LOG_LEVEL = "warn" }         # optional; cwd = "..." too
    timeout = 30                         # seconds per call (default 30); startup_timeout likewise
    chains = ["writing", "chat"]         # optional: offer its tools only in these chains

    [mcp.servers.search]                 # a streamable HTTP server
    url = "http://127.0.0.1:9000/mcp"
    headers = { Authorization = "Bearer ..." }

    [tools]
    auto_approve = ["write_file", "files__*"]   # run without asking (shell-style patterns)

A malformed table is a ConfigError naming the file and the key, like every other setting.
"""

from __future__ import annotations

from typing import Any

from assistant.errors import ConfigError

__all__ = ["tool_tables"]

_STDIO_KEYS = {"command", "args", "env", "cwd"}
_HTTP_KEYS = {"url", "headers"}
_COMMON_KEYS = {"timeout", "startup_timeout", "chains"}


def tool_tables(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Settings fields from config.toml's `[mcp]` and `[tools]` tables (both optional)."""
    servers = _table(_table(data, "mcp", where), "servers", where, "mcp.")
    specs = []
    if servers:  # `tools` imports pydantic (~0.3 s): not before the chat UI's first frame unless needed
        from tools.errors import ToolError
        from tools.mcp_client import McpServerSpec
    for name, table in servers.items():
        key = f"mcp.servers.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{key}] must be a table")
        unknown = sorted(set(table) - _STDIO_KEYS - _HTTP_KEYS - _COMMON_KEYS)
        if unknown:
            raise ConfigError(f"{where}: [{key}] has unknown key {unknown[0]!r}; known: "
                              f"{', '.join(sorted(_STDIO_KEYS | _HTTP_KEYS | _COMMON_KEYS))}")
        try:
            specs.append(McpServerSpec(
                name=name, command=_text(table, "command", key, where), args=_texts(table, "args", key, where),
                env=_mapping(table, "env", key, where), cwd=_text(table, "cwd", key, where),
                url=_text(table, "url", key, where), headers=_mapping(table, "headers", key, where),
                timeout=_number(table, "timeout", key, where, 30.0),
                startup_timeout=_number(table, "startup_timeout", key, where, 30.0),
                chains=_texts(table, "chains", key, where),
            ))
        except ToolError as exc:
            raise ConfigError(f"{where}: [{key}]: {exc}") from None
    tools = _table(data, "tools", where)
    unknown = sorted(set(tools) - {"auto_approve"})
    if unknown:
        raise ConfigError(f"{where}: [tools] has unknown key {unknown[0]!r}; known: auto_approve")
    return {"mcp_servers": tuple(specs), "auto_approve_tools": _texts(tools, "auto_approve", "tools", where)}


def _table(data: dict[str, Any], key: str, where: str, prefix: str = "") -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{prefix}{key}] must be a table")
    return value


def _text(table: dict[str, Any], key: str, name: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not (isinstance(value, str) and value.strip()):
        raise ConfigError(f"{where}: [{name}] {key} must be a non-empty string")
    return value


def _texts(table: dict[str, Any], key: str, name: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: [{name}] {key} must be a list of strings")
    return tuple(value)


def _mapping(table: dict[str, Any], key: str, name: str, where: str) -> dict[str, str]:
    value = table.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{where}: [{name}] {key} must be a table of strings")
    return dict(value)


def _number(table: dict[str, Any], key: str, name: str, where: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where}: [{name}] {key} must be a positive number of seconds")
    return float(value)
