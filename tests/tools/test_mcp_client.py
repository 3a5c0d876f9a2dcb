"""MCP servers in: a real server built with the SDK's MCPServer (mcp_servers/notes_server.py), started
as a subprocess over stdio, and three broken ones (exits at start, never answers, not installed).
Each broken one gives a one-line error naming it within its timeout; the others keep working."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tools import ToolRegistry
from tools.errors import ToolError
from tools.mcp_client import McpClients, McpServerSpec, mcp_tool_name

SERVER = str(Path(__file__).parent / "mcp_servers" / "notes_server.py")


def spec(name: str, *flags: str, **options) -> McpServerSpec:
    return McpServerSpec(name, command=sys.executable, args=(SERVER, *flags), **options)


@pytest.fixture(scope="module")
def servers():
    """One working server and three broken ones, started together (as the assistant does)."""
    clients = McpClients([
        spec("notes", timeout=60),  # generous: a loaded machine is slow, and a timeout is not tested here
        spec("slow", timeout=4),
        spec("gone", "--exit-at-start"),
        spec("mute", "--never-answer", startup_timeout=4),
        McpServerSpec("absent", command="throughline-no-such-mcp-server"),
    ])
    registry = ToolRegistry()
    started = time.monotonic()
    names = clients.register(registry)
    took = time.monotonic() - started
    yield clients, registry, names, took
    clients.close()


def test_a_servers_tools_are_listed_with_their_origin_and_side_effects(servers):
    _, registry, names, _ = servers
    assert sorted(n for n in names if n.startswith("notes")) == [
        "notes__add_numbers", "notes__crash", "notes__fail", "notes__save_note", "notes__stall"]
    assert registry.origins["notes__add_numbers"] == "mcp server notes"
    assert not registry.get("notes__add_numbers").side_effects  # declared readOnlyHint
    assert registry.get("notes__save_note").side_effects  # not declared read-only: approval needed
    assert registry.get("notes__add_numbers").schema()["required"] == ["a", "b"]  # the server's own schema


def test_a_tool_is_called_and_its_result_comes_back(servers):
    _, registry, _, _ = servers
    result = registry.get("notes__add_numbers").invoke({"a": 2, "b": 40})
    assert result.ok and result.output == "42"
    failed = registry.get("notes__fail").invoke({"reason": "on purpose"})
    assert not failed.ok and failed.error.startswith("ToolError:") and failed.error.endswith("on purpose")


def test_broken_servers_each_give_one_line_naming_them_within_the_timeout(servers):
    clients, _, _, took = servers
    errors = clients.errors
    assert sorted(errors) == ["absent", "gone", "mute"]
    assert "mcp server 'gone'" in errors["gone"] and "exited during start-up" in errors["gone"]
    assert "refusing to start" in errors["gone"]  # the server's own last stderr line says why
    assert "mcp server 'mute'" in errors["mute"] and "did not answer within 4 s" in errors["mute"]
    assert "mcp server 'absent'" in errors["absent"] and "not found (is it installed?)" in errors["absent"]
    assert all("\n" not in e for e in errors.values())
    assert took < 30 + 15  # in parallel: bounded by the longest start-up timeout (plus slack for a loaded machine)


def test_a_call_that_never_answers_fails_within_the_call_timeout(servers):
    _, registry, _, _ = servers
    started = time.monotonic()
    result = registry.get("slow__stall").invoke({"seconds": 30})
    assert not result.ok and "mcp server 'slow' did not answer stall within 4 s" in result.error
    assert time.monotonic() - started < 4 + 10
    assert registry.get("slow__add_numbers").invoke({"a": 1, "b": 1}).output == "2"  # still serving


def test_a_server_that_crashes_mid_call_is_named_and_restarted_on_the_next_call():
    clients = McpClients([spec("notes", timeout=60)])
    registry = ToolRegistry()
    try:
        clients.register(registry)
        crashed = registry.get("notes__crash").invoke({})
        assert not crashed.ok and "mcp server 'notes'" in crashed.error and "stopped during a call to crash" in crashed.error
        assert "crashing on purpose" in crashed.error
        assert registry.get("notes__add_numbers").invoke({"a": 3, "b": 4}).output == "7"
    finally:
        clients.close()


def test_names_fit_tool_calling_apis():
    assert mcp_tool_name("files", "read.file") == "files__read_file"
    assert len(mcp_tool_name("s", "x" * 100)) == 64
    with pytest.raises(ToolError, match="command"):
        McpServerSpec("nothing")
    with pytest.raises(ToolError, match="must be"):
        McpServerSpec("bad.name", command="x")
