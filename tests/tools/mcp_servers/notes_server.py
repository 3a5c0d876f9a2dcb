"""A small real MCP server for the tests, built with the SDK's high-level server (MCPServer).

Run as `python notes_server.py [--exit-at-start | --never-answer]`: the flags make the two broken
servers the client must survive (one that exits before the handshake, one that never answers)."""

import os
import sys
import time

if "--exit-at-start" in sys.argv:
    print("notes_server: refusing to start (--exit-at-start)", file=sys.stderr, flush=True)
    sys.exit(3)
if "--never-answer" in sys.argv:
    sys.stdin.read()  # reads the handshake and never replies
    sys.exit(0)

from mcp.server import MCPServer  # noqa: E402
from mcp.server.mcpserver.exceptions import ToolError  # noqa: E402
from mcp.types import ToolAnnotations  # noqa: E402

server = MCPServer("notes", log_level="WARNING")
NOTES: list[str] = []


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def add_numbers(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def save_note(text: str) -> str:
    """Save a note (changes the server's state, so not read-only)."""
    NOTES.append(text)
    return f"saved note {len(NOTES)}: {text}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def fail(reason: str) -> str:
    """Always fails with the given reason (a ToolError: the SDK sends its text to the client)."""
    raise ToolError(reason)


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def crash() -> str:
    """Kills the server process mid-call."""
    print("notes_server: crashing on purpose", file=sys.stderr, flush=True)
    os._exit(7)


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def stall(seconds: float = 60) -> str:
    """Never answers in time."""
    time.sleep(seconds)
    return "late"


if __name__ == "__main__":
    server.run()
