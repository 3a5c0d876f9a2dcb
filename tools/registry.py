"""The tool registry: built-ins and plugins arrive through the same `register(registry)` hook.

    registry = default_registry()            # built-ins (tools.builtin:register) + plugins
    registry.get("word_count").invoke({"text": "a b"})
    registry.plugin_errors                   # [(entry point name, "ImportError: ...")] — skipped

A plugin package declares an entry point in the `throughline.tools` group whose value is a
callable taking the registry:

    [project.entry-points."throughline.tools"]
    my_tools = "my_package.tools:register"

    def register(registry):
        registry.register(my_function)       # a typed function, a Tool or a LangChain BaseTool

A plugin that fails to load, raises, or registers a duplicate name is rolled back as a whole,
recorded in `plugin_errors` and skipped; the others still load.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from tools.base import Tool, tool
from tools.errors import DuplicateToolError, ToolDefinitionError, UnknownToolError

__all__ = ["BUILTIN", "ToolRegistry", "default_registry"]

BUILTIN = "tools.builtin:register"
PLUGIN_GROUP = "throughline.tools"


class ToolRegistry:
    """Tools by unique name; iteration and `names()` are sorted by name."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._origins: dict[str, str] = {}
        self._origin = "api"
        self.plugin_errors: list[tuple[str, str]] = []

    def register(self, item: Tool | Callable[..., Any] | Any, *, origin: str | None = None,
                 replace: bool = False) -> Tool:
        """Add a Tool, a typed function (wrapped with `@tool`) or a LangChain BaseTool.

        Returns the Tool, so `@registry.register` works as a decorator. `origin` defaults to
        "built-in", "plugin NAME (VALUE)" while a hook runs, else "api"."""
        new = _as_tool(item)
        origin = origin or self._origin
        if new.name in self._tools and not replace:
            raise DuplicateToolError(
                f"two tools are named {new.name!r} ({self._origins[new.name]} and {origin}); "
                f"rename one with @tool(name=...)")
        self._tools[new.name] = new
        self._origins[new.name] = origin
        return new

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise UnknownToolError(f"no tool named {name!r} (registered: {known})") from None

    @property
    def origins(self) -> Mapping[str, str]:
        """Where each tool came from: "built-in", "plugin NAME (VALUE)" or "api"."""
        return MappingProxyType(self._origins)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter([self._tools[n] for n in self.names()])

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names()})"

    def load_builtins(self) -> None:
        """Register the built-in tools through the same hook a plugin uses."""
        from tools.builtin import register

        with self._registering("built-in"):
            register(self)

    def load_plugins(self, group: str = PLUGIN_GROUP) -> list[str]:
        """Call every entry point's `register(registry)`; return the names that loaded.

        A broken plugin is rolled back, recorded in `plugin_errors` and skipped."""
        loaded = []
        for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
            if ep.value.replace(" ", "") == BUILTIN and "built-in" in self._origins.values():
                continue  # built-ins already loaded by load_builtins()
            before = (dict(self._tools), dict(self._origins))
            try:
                hook = ep.load()
                if not callable(hook):
                    raise ToolDefinitionError(f"{ep.value} is not callable")
                with self._registering(f"plugin {ep.name} ({ep.value})"):
                    hook(self)
            except Exception as exc:  # any plugin failure is recorded, never fatal
                for current, saved in zip((self._tools, self._origins), before):
                    current.clear()
                    current.update(saved)
                self.plugin_errors.append((ep.name, f"{type(exc).__name__}: {exc}"))
                continue
            loaded.append(ep.name)
        return loaded

    @contextmanager
    def _registering(self, origin: str) -> Iterator[None]:
        previous, self._origin = self._origin, origin
        try:
            yield
        finally:
            self._origin = previous


def default_registry(*, plugins: bool = True) -> ToolRegistry:
    """A registry holding the built-in tools and (unless `plugins=False`) every plugin's tools."""
    registry = ToolRegistry()
    registry.load_builtins()
    if plugins:
        registry.load_plugins()
    return registry


def _as_tool(item: Any) -> Tool:
    if isinstance(item, Tool):
        return item
    lc_tools = sys.modules.get("langchain_core.tools")
    if lc_tools is not None and isinstance(item, lc_tools.BaseTool):
        return Tool.from_langchain(item)
    if callable(item):
        return tool(item)
    raise ToolDefinitionError(f"cannot register {type(item).__name__}: expected a Tool, function or BaseTool")
