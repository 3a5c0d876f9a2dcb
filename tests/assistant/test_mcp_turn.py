"""MCP servers from config.toml in a real turn: the scripted OpenAI-compatible model calls a real MCP
server's tools (over stdio); a server that exits, one that never answers and one that is not
installed each show one error line naming it, and the turn still finishes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from assistant import Assistant
from assistant.events import ApprovalNeeded, Finished, ToolFinished
from assistant.settings import load_settings

from .scripted_openai import ScriptedOpenAI, call, say

SERVER = Path(__file__).resolve().parents[1] / "tools" / "mcp_servers" / "notes_server.py"


def config(extra: str = "") -> None:
    python, script = sys.executable, str(SERVER)
    Path(os.environ["ASSISTANT_CONFIG"]).write_text(f"""
[mcp.servers.notes]
command = {python!r}
args = [{script!r}]
timeout = 60

[mcp.servers.gone]
command = {python!r}
args = [{script!r}, "--exit-at-start"]

[mcp.servers.mute]
command = {python!r}
args = [{script!r}, "--never-answer"]
startup_timeout = 3

[mcp.servers.absent]
command = "throughline-no-such-mcp-server"
{extra}""")


def test_a_model_calls_mcp_tools_and_broken_servers_do_not_stop_the_turn():
    config()
    asked: list[str] = []
    script = [call("notes__add_numbers", a=20, b=22), call("notes__save_note", text="buy milk"), say("It is 42.")]
    with ScriptedOpenAI(script) as server:
        bot = Assistant(settings=load_settings(model=f"openai:scripted@{server.url}"))
        try:
            events = list(bot.stream("/chat add 20 and 22, then save a note", session="m",
                                     approve=lambda code: asked.append(code) or False))
        finally:
            bot.close()
    errors = {e.name: e.error for e in events if isinstance(e, ToolFinished) and e.name.startswith("mcp:")}
    assert sorted(errors) == ["mcp:absent", "mcp:gone", "mcp:mute"]
    assert "mcp server 'gone'" in errors["mcp:gone"] and "mcp server 'mute'" in errors["mcp:mute"]
    added = [e for e in events if isinstance(e, ToolFinished) and e.name == "notes__add_numbers"]
    assert added[0].result == "42" and server.tool_messages(1)[0]["content"] == "42"
    # save_note is not declared read-only: the person is asked, says no, and the model is told
    assert len(asked) == 1 and "notes__save_note(" in asked[0] and "buy milk" in asked[0]
    assert any(isinstance(e, ApprovalNeeded) for e in events)
    assert "declined" in server.tool_messages(2)[-1]["content"]
    assert isinstance(events[-1], Finished) and events[-1].text == "It is 42."
    offered = {t["function"]["name"] for t in server.requests[0]["tools"]}
    assert {"notes__add_numbers", "notes__save_note"} <= offered


def test_mcp_tools_can_be_auto_approved_and_limited_to_chains():
    config('\n[tools]\nauto_approve = ["notes__save_*"]\n')
    path = Path(os.environ["ASSISTANT_CONFIG"])
    path.write_text(path.read_text().replace("timeout = 60", "timeout = 60\nchains = [\"chat\"]"))
    with ScriptedOpenAI([call("notes__save_note", text="call Bo"), say("Saved."), say("A draft.")]) as server:
        bot = Assistant(settings=load_settings(model=f"openai:scripted@{server.url}"))
        try:
            events = list(bot.stream("/chat note: call Bo", session="m", approve=lambda code: False))
            bot.ask("/write a two-line poem", session="w")
        finally:
            bot.close()
    saved = [e for e in events if isinstance(e, ToolFinished) and e.name == "notes__save_note"]
    assert saved[0].error is None and "saved note 1: call Bo" in saved[0].result
    assert not any(isinstance(e, ApprovalNeeded) for e in events)
    assert not any("notes__" in t["function"]["name"] for t in server.requests[2]["tools"])  # not in writing
