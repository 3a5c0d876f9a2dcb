"""The chain registry: built-in chains and plugin chains arrive through the same `register` hook.

A plugin package declares an entry point in the `throughline.chains` group whose value is a
`register(registry)` callable (the simonw/llm shape). A plugin that fails to load is recorded in
`plugin_errors` and shown by `assistant tools`; it never stops the assistant from starting.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Iterator

from assistant.chains.base import Chain
from assistant.errors import ConfigError

ENTRY_POINT_GROUP = "throughline.chains"


class ChainRegistry:
    def __init__(self) -> None:
        self._chains: dict[str, Chain] = {}
        self.plugin_errors: list[tuple[str, str]] = []
        self.origins: dict[str, str] = {}

    def register(self, chain: Chain, *, origin: str = "built-in") -> None:
        if not isinstance(chain, Chain):
            raise TypeError(f"{chain!r} is not a chain: it needs name, description, prefix, examples, run()")
        if chain.name in self._chains:
            raise ConfigError(f"two chains are named {chain.name!r} ({self.origins[chain.name]} and {origin})")
        self._chains[chain.name] = chain
        self.origins[chain.name] = origin

    def get(self, name: str) -> Chain:
        try:
            return self._chains[name]
        except KeyError:
            raise ConfigError(f"no chain named {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return list(self._chains)

    def __iter__(self) -> Iterator[Chain]:
        return iter(self._chains.values())

    def __contains__(self, name: object) -> bool:
        return name in self._chains

    def prefixes(self) -> dict[str, str]:
        return {chain.prefix: chain.name for chain in self if chain.prefix}

    def load_plugins(self, group: str = ENTRY_POINT_GROUP) -> None:
        for ep in entry_points(group=group):
            before = set(self._chains)
            try:
                ep.load()(self)
            except Exception as exc:  # a broken plugin must not take the assistant down
                self.plugin_errors.append((ep.name, f"{type(exc).__name__}: {exc}"))
                continue
            for name in set(self._chains) - before:
                self.origins[name] = f"plugin {ep.name} ({ep.value})"


def default_chains(plugins: bool = True) -> ChainRegistry:
    from assistant.chains.builtin import register

    registry = ChainRegistry()
    register(registry)
    if plugins:
        registry.load_plugins()
    return registry
