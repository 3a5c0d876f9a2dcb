"""MCP servers as tools: each configured server's tools become `Tool`s named `SERVER__TOOL`.

    clients = McpClients([McpServerSpec("files", command="npx", args=("-y", "@mcp/server-files", "."))])
    clients.register(registry)          # starts the servers (in parallel), registers their tools
    clients.errors                      # {"files": "mcp server 'files': command 'npx' not found"}
    registry.get("files__read").invoke({"path": "a.txt"})
    clients.close()                     # ends every session and server process

The protocol is the official `mcp` SDK's (`mcp.Client` over stdio or streamable HTTP); this module
only holds the sessions open and makes them callable from synchronous code. The sessions live on
one private event loop in a daemon thread, each in its own task (an anyio context must be entered
and left by the same task), so a chain calls a tool as a plain blocking function with a timeout.

Names: tool-calling APIs accept `^[a-zA-Z0-9_-]{1,64}$` (OpenAI's rule), so `server.tool` is not
an option; the separator is a double underscore and anything else outside that set becomes `_`.
A tool the server does not declare read-only (`readOnlyHint`) has side effects: each call the model
makes is approved by the person, like generated code.

Failures are contained per server: one that is not installed, exits, never answers, crashes
mid-call or answers garbage makes its own tools fail with a one-line `McpServerError` naming it,
within its timeout; the others keep working. A server that failed is tried again after
`_mcp_connection.RETRY_AFTER_S` at the earliest, so a dead server does not cost every turn its start-up timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from tools._mcp_connection import Connection
from tools.base import Tool
from tools.errors import McpServerError, ToolError

__all__ = ["SEPARATOR", "McpClients", "McpServerSpec", "mcp_tool_name"]

SEPARATOR = "__"
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")
_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class McpServerSpec:
    """One `[mcp.servers.NAME]` table: a stdio server (`command`, `args`, `env`, `cwd`) or a
    streamable HTTP one (`url`, `headers`)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0  # seconds one tool call may take
    startup_timeout: float = 30.0  # seconds from launch to a listed set of tools
    chains: tuple[str, ...] = ()  # the chains its tools are offered in; () = every chain

    def __post_init__(self) -> None:
        if not _SERVER_NAME.match(self.name) or SEPARATOR in self.name:
            raise ToolError(f"MCP server name {self.name!r} must be 1-32 letters, digits, '_' or '-' "
                            f"(without {SEPARATOR!r})")
        if (self.command is None) == (self.url is None):
            raise ToolError(f"MCP server {self.name!r} needs either `command` (stdio) or `url` (HTTP)")
        if self.timeout <= 0 or self.startup_timeout <= 0:
            raise ToolError(f"MCP server {self.name!r}: timeouts must be positive")

    @property
    def where(self) -> str:
        return self.url or " ".join([self.command or "", *self.args]).strip()


def mcp_tool_name(server: str, tool: str) -> str:
    """The name the model sees: `server__tool`, cut to 64 characters."""
    return (server + SEPARATOR + _NOT_ALLOWED.sub("_", tool))[:64]


class McpClients:
    """The configured MCP servers: started on first use, closed with `close()`."""

    def __init__(self, specs: Iterable[McpServerSpec]) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.errors: dict[str, str] = {}
        self._connections = {name: Connection(spec) for name, spec in self.specs.items()}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.specs)

    # -- listing ------------------------------------------------------------------------------

    def tools(self) -> list[Tool]:
        """Every live server's tools; servers not yet started are started now, in parallel."""
        if not self.specs:
            return []
        with self._lock:
            due = [c for c in self._connections.values() if c.client is None and c.may_retry()]
            if due:
                wait = max(c.spec.startup_timeout for c in due) + 10
                self._run(_together(c.open() for c in due), wait)
            for conn in self._connections.values():
                if conn.error:
                    self.errors[conn.spec.name] = conn.error
                else:
                    self.errors.pop(conn.spec.name, None)
            live = [c for c in self._connections.values() if c.client is not None]
        return [self._as_tool(conn, listed) for conn in live for listed in conn.listing]

    def register(self, registry: Any) -> list[str]:
        """Add every live server's tools to `registry` (origin "mcp server NAME"); return their names."""
        names = []
        for made in self.tools():
            server = made.name.split(SEPARATOR, 1)[0]
            names.append(registry.register(made, origin=f"mcp server {server}", replace=True).name)
        return names

    def _as_tool(self, conn: Connection, listed: Any) -> Tool:
        server, remote = conn.spec.name, listed.name
        annotations = getattr(listed, "annotations", None)
        read_only = bool(annotations and getattr(annotations, "read_only_hint", None))
        schema = listed.input_schema if isinstance(listed.input_schema, dict) else {"type": "object"}
        required = set(schema.get("required", ()))

        def call(**arguments: Any) -> Any:
            sent = {k: v for k, v in arguments.items() if v is not None or k in required}
            return self.call(server, remote, sent)

        description = (listed.description or listed.title or remote).strip()
        return Tool.from_schema(mcp_tool_name(server, remote), f"{description} (MCP server {server})", schema,
                                call, side_effects=not read_only, chains=conn.spec.chains)

    # -- calling ------------------------------------------------------------------------------

    def call(self, server: str, tool: str, arguments: Mapping[str, Any]) -> Any:
        """Call `tool` on `server`: its text (or structured) result, or McpServerError / ToolError."""
        conn = self._connections.get(server)
        if conn is None:
            raise McpServerError(f"no MCP server named {server!r}")
        if conn.client is None:
            self.tools()  # (re)start it, within its start-up timeout
            if conn.client is None:
                raise McpServerError(conn.error or f"mcp server {server!r} is not running")
        return self._run(conn.call(tool, dict(arguments)), conn.spec.timeout + 10)

    def close(self) -> None:
        """End every session (stdio servers' processes end with them) and the loop thread."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
            if loop is None:
                return
            with contextlib.suppress(FutureTimeout, RuntimeError):
                asyncio.run_coroutine_threadsafe(
                    _together(c.close(final=True) for c in self._connections.values()), loop).result(15)
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(5)

    def _run(self, coro: Any, timeout: float) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="throughline-mcp", daemon=True)
            self._thread.start()
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except FutureTimeout:  # the per-server timeouts inside should have fired first
            future.cancel()
            raise McpServerError(f"MCP call did not finish within {timeout:g} s") from None


async def _together(coros: Iterable[Any]) -> None:
    await asyncio.gather(*coros)
