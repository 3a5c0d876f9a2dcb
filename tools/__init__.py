'''Throughline's tools: typed functions a model can call, their registry, and a sandbox.

    from tools import run_python, tool

    result = run_python("print(1 + 1)", workspace="./ws", timeout=30, memory_mb=1024)

    @tool
    def word_count(text: str) -> int:
        """Count the words in a text."""
        return len(text.split())

`tools` never imports `assistant` or `memory`, and imports LangChain only when asked to convert.
'''

from tools.base import Tool, ToolResult, tool
from tools.errors import (
    DuplicateToolError,
    SandboxError,
    ToolDefinitionError,
    ToolError,
    ToolInputError,
    UnknownToolError,
    WorkspaceError,
)
from tools.registry import ToolRegistry, default_registry
from tools.sandbox import RunResult, run_python

__all__ = [
    "DuplicateToolError",
    "RunResult",
    "SandboxError",
    "Tool",
    "ToolDefinitionError",
    "ToolError",
    "ToolInputError",
    "ToolRegistry",
    "ToolResult",
    "UnknownToolError",
    "WorkspaceError",
    "default_registry",
    "run_python",
    "tool",
]
