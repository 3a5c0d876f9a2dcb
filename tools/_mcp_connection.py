"""One MCP server's session, held open by a task on the clients' event loop (see `tools.mcp_client`).

The session must be entered and left by the same task (anyio), so `_hold` owns it from start to
stop; `call` borrows it. Every failure becomes this server's one-line `McpServerError`, with the last
line the server wrote to stderr when it crashed, so one broken server never breaks the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from typing import TYPE_CHECKING, Any

from tools.errors import McpServerError, ToolError

if TYPE_CHECKING:
    from tools.mcp_client import McpServerSpec

RETRY_AFTER_S = 60.0
_MAX_PAGES = 20


class _StartFailed(Exception):
    """Why a server did not start (its connection turns it into the server's one-line error)."""


class Connection:
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
