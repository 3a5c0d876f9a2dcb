"""Names a package resolves on first access, so importing it stays cheap (no torch, LangChain or
Chroma until a name that needs them is used)."""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Callable


def lazy_getattr(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` for `package`: each name in `where` is imported from its module
    on first access and kept in the package's namespace."""
    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(import_module(where[name]), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
