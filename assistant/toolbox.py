"""The tools a capable model may call, and the chain wrapper that hands them to it.

The same registry serves both paths: the deterministic chains call tools by code, and a model that
can call tools (`tool_loop.can_call_tools`) gets the ones that fit the chain it was routed to:

- the chain's own (`chain.tools`, if it has any),
- the registry's: built-ins, plugins (`throughline.tools` entry points), `Assistant(tools=[fn])`,
- MCP servers' (`[mcp.servers.NAME]`), started on the first turn that needs them.

A tool that declares `chains=(...)` is offered only there; others everywhere. Tools whose injected
parameters the program cannot fill are not offered (the workspace is bound per session).
A chain that sets `tool_calling = False` always runs its own code.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generator, Iterable

from assistant.chains.base import Chain, ChainResult, ChainRun
from assistant.errors import ToolCallingUnsupported
from assistant.events import Event, ToolFinished, ToolStarted
from assistant.tool_loop import LoopLimits, ToolPolicy, can_call_tools, run_tool_loop

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from assistant.settings import Settings
    from tools import Tool, ToolRegistry
    from tools.mcp_client import McpClients


class ToolBox:
    """The registry (built lazily: plugins import code) plus the MCP clients, closed with the assistant."""

    def __init__(self, settings: "Settings", extra: Iterable[Any] = ()) -> None:
        self.settings = settings
        self._extra = list(extra)
        if self._extra:  # a function that cannot be a tool fails here, not mid-turn
            from tools import ToolRegistry

            checked = ToolRegistry()
            self._extra = [checked.register(item) for item in self._extra]
        self._registry: ToolRegistry | None = None
        self._mcp: McpClients | None = None
        self._reported: set[str] = set()
        self._refused = False  # the model's server refused tools once: it gets the chains from then on
        self._lock = threading.Lock()

    @property
    def registry(self) -> "ToolRegistry":
        """Built-ins, plugins and `Assistant(tools=...)`; MCP tools join it in `connect()`."""
        with self._lock:
            if self._registry is None:
                from tools import default_registry

                registry = default_registry()
                for item in self._extra:
                    registry.register(item, origin="api", replace=True)
                self._registry = registry
            return self._registry

    @property
    def mcp(self) -> "McpClients":
        with self._lock:
            if self._mcp is None:
                from tools.mcp_client import McpClients

                self._mcp = McpClients(self.settings.mcp_servers)
            return self._mcp

    def connect(self) -> dict[str, str]:
        """Start the MCP servers not running yet and register their tools; return {server: error}."""
        registry, mcp = self.registry, self.mcp
        if mcp:
            mcp.register(registry)
        return dict(mcp.errors)

    def offered(self, chain: Chain, workspace: Any) -> list["Tool"]:
        """The tools that fit `chain`, with the session's workspace bound."""
        chosen: dict[str, Tool] = {}
        for tool in [*getattr(chain, "tools", ()), *self.registry]:
            if tool.name in chosen or (tool.chains and chain.name not in tool.chains):
                continue
            missing = [p for p in tool.injected if p not in tool.bound]
            if missing == ["workspace"]:
                tool = tool.bind(workspace=workspace)
            elif missing:
                continue
            chosen[tool.name] = tool
        return list(chosen.values())

    def run(self, chain: Chain, run: ChainRun, messages: "list[BaseMessage]") -> Generator[Event, None, ChainResult]:
        """The chain's own steps, or — for a model that calls tools — the tool loop in its place."""
        if (getattr(chain, "tool_calling", True) is False or self._refused
                or not can_call_tools(run.model, self.settings.tool_calling)):
            return (yield from chain.run(run, messages))
        for server, error in sorted(self.connect().items()):
            if error not in self._reported:  # once per failure, not on every turn
                self._reported.add(error)
                yield ToolStarted(name=f"mcp:{server}")
                yield ToolFinished(name=f"mcp:{server}", error=error)
        policy = ToolPolicy(auto_run=run.auto_run, auto_approve=tuple(self.settings.auto_approve_tools))
        limits = LoopLimits(self.settings.max_tool_steps, self.settings.tool_time_limit,
                            self.settings.tool_token_limit)
        try:
            return (yield from ToolCallingChain(chain).run_with(run, messages, self.offered(chain, run.workspace),
                                                                policy, limits))
        except ToolCallingUnsupported as exc:
            if self.settings.tool_calling == "on":
                raise
            self._refused = True  # auto: say so once, and answer with the chain (nothing was shown yet)
            yield ToolStarted(name="tool calling")
            yield ToolFinished(name="tool calling", error=f"{exc} — answering without tools")
            return (yield from chain.run(run, messages))

    def close(self) -> None:
        with self._lock:
            mcp, self._mcp = self._mcp, None
        if mcp is not None:
            mcp.close()


@dataclass
class ToolCallingChain:
    """A chain answered by the tool loop: its prompt and context, the model's own tool calls, and the
    chain's `finish`/`artifacts` (a writing chain still saves its draft) applied to the answer."""

    inner: Chain

    def run_with(self, run: ChainRun, messages: "list[BaseMessage]", tools: list["Tool"], policy: ToolPolicy,
                 limits: LoopLimits) -> Generator[Event, None, ChainResult]:
        text, tokens = yield from run_tool_loop(run, messages, tools, policy=policy, limits=limits)
        finish = getattr(self.inner, "finish", None)
        text = finish(text) if callable(finish) else text.strip()
        make = getattr(self.inner, "artifacts", None)
        artifacts = tuple(make(run, text)) if callable(make) else ()
        return ChainResult(text=text, artifacts=artifacts, tokens=tokens)
