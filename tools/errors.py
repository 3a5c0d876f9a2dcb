"""Errors raised by the tools package.

    ToolError                  base: anything the tools layer cannot do
    ├── ToolDefinitionError    a function cannot be made into a tool (no docstring, untyped
    │                          parameter, *args, bad name)
    ├── ToolInputError         arguments failed validation against the tool's schema
    ├── DuplicateToolError     a registry already holds a tool of that name
    ├── UnknownToolError       a registry holds no tool of that name (also a LookupError)
    ├── WorkspaceError         a file tool path escapes the workspace, or the file is too big,
    │                          binary, missing or not a regular file
    ├── SandboxError           the sandbox could not start the child process at all
    └── McpServerError         an MCP server failed to start, timed out, crashed or answered garbage

A tool that *runs* and fails is not an error here: `Tool.invoke` turns the exception into a
`ToolResult(ok=False, error=...)` the model can read. A sandboxed run that crashes, times out or
hits a limit is likewise a `RunResult`, not an exception.
`tools` never imports `assistant`, so the agent maps these into its own tree at the edge.
"""

from __future__ import annotations


class ToolError(Exception):
    """Anything the tools layer cannot do."""


class ToolDefinitionError(ToolError, TypeError):
    """A function cannot be turned into a tool."""


class ToolInputError(ToolError, ValueError):
    """Arguments do not match the tool's schema."""


class DuplicateToolError(ToolError):
    """A tool of that name is already registered."""


class UnknownToolError(ToolError, LookupError):
    """No tool of that name is registered."""


class WorkspaceError(ToolError):
    """A file tool refused a path or a file."""


class SandboxError(ToolError):
    """The sandboxed process could not be started."""


class McpServerError(ToolError):
    """An MCP server could not start, did not answer in time, crashed or answered nonsense. The
    message names the server; its tools fail with it while the other servers keep working."""
