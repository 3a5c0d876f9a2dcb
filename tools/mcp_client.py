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
`RETRY_AFTER_S` at the earliest, so a dead server does not cost every turn its start-up timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from tools.base import Tool
from tools.errors import McpServerError, ToolError

__all__ = ["SEPARATOR", "McpClients", "McpServerSpec", "mcp_tool_name"]

SEPARATOR = "__"
RETRY_AFTER_S = 60.0
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")
_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_MAX_PAGES = 20


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
        self._connections = {name: _Connection(spec) for name, spec in self.specs.items()}
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

    def _as_tool(self, conn: _Connection, listed: Any) -> Tool:
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


class _StartFailed(Exception):
    """Why a server did not start (its connection turns it into the server's one-line error)."""


class _Connection:
    """One server's session, held open by a task on the clients' loop."""

    def __init__(self, spec: McpServerSpec) -> None:
        self.spec = spec
        self.client: Any = None
        self.listing: list[Any] = []
        self.error: str | None = None
        self._failed_at = 0.0
        self._task: asyncio.Task | None = None
        self._stop: asyncio.Event | None = None
        self._stderr: Any = None

    def may_retry(self) -> bool:
        return self.error is None or time.monotonic() - self._failed_at >= RETRY_AFTER_S

    async def open(self) -> None:
        """Start the server and list its tools within the start-up timeout; on failure record why."""
        ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._hold(ready, self._stop))
        try:
            self.listing = await asyncio.wait_for(asyncio.shield(ready), self.spec.startup_timeout)
            self.error = None
        except asyncio.TimeoutError:
            self._fail(f"did not answer within {self.spec.startup_timeout:g} s of starting")
            await self.close(cancel=True)
        except _StartFailed as exc:
            self._fail(str(exc))
            await self.close()

    async def _hold(self, ready: asyncio.Future, stop: asyncio.Event) -> None:
        from mcp import Client

        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await stack.enter_async_context(Client(self._transport(),
                                                                read_timeout_seconds=self.spec.timeout))
                tools, cursor = [], None
                for _ in range(_MAX_PAGES):
                    page = await client.list_tools(cursor=cursor)
                    tools.extend(page.tools)
                    if not (cursor := page.next_cursor):
                        break
                self.client = client
                ready.set_result(tools)
                await stop.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any start-up failure is this server's one-line error
            if not ready.done():
                ready.set_exception(_StartFailed(self._why(exc)))
        finally:
            self.client = None

    def _transport(self) -> Any:
        if self.spec.url:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            http = httpx2.AsyncClient(headers=dict(self.spec.headers), timeout=httpx2.Timeout(30, read=300))
            return streamable_http_client(self.spec.url, http_client=http)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        if self._stderr is None or self._stderr.closed:  # kept past the session: its last line explains a crash
            self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        else:
            self._stderr.seek(0)
            self._stderr.truncate()
        params = StdioServerParameters(command=self.spec.command, args=list(self.spec.args),
                                       env=dict(self.spec.env) or None, cwd=self.spec.cwd)
        return stdio_client(params, errlog=self._stderr)

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        from mcp import MCPError
        from pydantic import ValidationError

        client = self.client
        if client is None:
            raise McpServerError(self.error or f"mcp server {self.spec.name!r} is not running")
        try:
            result = await client.call_tool(tool, arguments, read_timeout_seconds=self.spec.timeout)
        except MCPError as exc:
            if "timed out" in str(exc):
                raise McpServerError(f"mcp server {self.spec.name!r} did not answer {tool} within "
                                     f"{self.spec.timeout:g} s") from None
            if "closed" in str(exc).lower():  # the process exited or the connection dropped
                self._fail(f"stopped during a call to {tool}{self._stderr_tail()}", retry_now=True)
                await self.close()
                raise McpServerError(self.error) from None
            raise McpServerError(f"mcp server {self.spec.name!r}: {tool} failed: {_one_line(str(exc))}") from None
        except (ValidationError, ValueError, TypeError) as exc:
            raise McpServerError(f"mcp server {self.spec.name!r} answered {tool} with an invalid result: "
                                 f"{_one_line(str(exc))}") from None
        return _result_output(result)

    async def close(self, *, final: bool = False, cancel: bool = False) -> None:
        task, self._task = self._task, None
        if self._stop is not None:
            self._stop.set()
        if task is not None and cancel:
            task.cancel()  # stuck in the handshake: the stop event would never be seen
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(task, 10)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                task.cancel()
        self.client = None
        if final and self._stderr is not None:
            self._stderr.close()

    def _fail(self, why: str, *, retry_now: bool = False) -> None:
        """Record why the server is down. A crash mid-call may restart at once; a failed start waits."""
        self.error = f"mcp server {self.spec.name!r} ({self.spec.where}) {why}"
        self._failed_at = -RETRY_AFTER_S if retry_now else time.monotonic()
        self.listing = []

    def _why(self, exc: BaseException) -> str:
        leaf = _leaf(exc)
        if isinstance(leaf, FileNotFoundError) or (isinstance(leaf, OSError) and leaf.errno == 2):
            return f"cannot start: command {self.spec.command!r} not found (is it installed?)"
        if isinstance(leaf, PermissionError):
            return f"cannot start: {self.spec.command!r} is not executable"
        if type(leaf).__name__ in ("ConnectError", "ConnectTimeout"):
            return f"cannot be reached: {_one_line(str(leaf)) or 'connection refused'}"
        if "closed" in str(leaf).lower():
            return f"exited during start-up{self._stderr_tail()}"
        return f"failed to start: {type(leaf).__name__}: {_one_line(str(leaf))}"

    def _stderr_tail(self) -> str:
        """The server's last stderr line (its traceback's last line, usually), as ': ...'."""
        stream = self._stderr
        if stream is None or stream.closed:
            return ""
        try:
            stream.flush()
            stream.seek(0)
            lines = [line.strip() for line in stream.read()[-4000:].splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return f": {_one_line(lines[-1])}" if lines else ""


async def _together(coros: Iterable[Any]) -> None:
    await asyncio.gather(*coros)


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while getattr(exc, "exceptions", None):
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def _one_line(text: str, width: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _result_output(result: Any) -> Any:
    """A CallToolResult as the model reads it; an error result raises with the server's words."""
    parts = []
    for block in result.content or ():
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')} omitted]")
    text = "\n".join(parts)
    if result.is_error:
        raise ToolError(_one_line(text, 2000) or "the tool reported an error")
    if not text and result.structured_content is not None:
        return json.loads(json.dumps(result.structured_content, default=str))
    return text
