"""The TUI with a model that calls tools itself (the real langchain-openai client against a scripted
OpenAI-compatible server on 127.0.0.1): the model's tool call shows as a tool line, and a
side-effecting one opens the approval dialog first."""

from __future__ import annotations

import pytest

from assistant.agent import Assistant
from assistant.settings import load_settings
from assistant.tui.app import ThroughlineApp
from assistant.tui.screens.approval import ApprovalScreen
from assistant.tui.widgets.transcript import ReplyView
from tools import tool

from ..assistant.scripted_openai import ScriptedOpenAI, call, say
from .helpers import ready, send, transcript_text, wait_for

ARCHIVED: list[str] = []


@tool
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


@tool(side_effects=True)
def archive_note(name: str) -> str:
    """Archive a note (changes things)."""
    ARCHIVED.append(name)
    return f"archived {name}"


@pytest.mark.asyncio
async def test_the_tui_shows_the_models_tool_calls_and_asks_before_a_side_effect():
    ARCHIVED.clear()
    script = [call("shout", text="hello there"), call("archive_note", name="old-ideas"), say("Shouted and archived.")]
    with ScriptedOpenAI(script) as server:
        settings = load_settings(model=f"openai:scripted@{server.url}")

        def factory(cfg, progress):
            return Assistant(settings=cfg, progress=progress, tools=[shout, archive_note])

        app = ThroughlineApp(settings=settings, assistant_factory=factory, preload=False)
        async with app.run_test(size=(100, 32)) as pilot:
            await ready(pilot)
            await send(pilot, "/chat shout hello there, then archive old-ideas", wait=False)
            modal = await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen, 90,
                                   what="the approval dialog")
            assert "archive_note(" in modal.code and "name='old-ideas'" in modal.code
            assert ARCHIVED == []  # nothing ran before the answer
            text = transcript_text(app)
            assert "✓ shout" in text and "HELLO THERE" in text  # the model's first call, shown with its result
            await pilot.pause(ApprovalScreen.ARM_DELAY_S)
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.chat.replying, 60, what="the turn to end")
            await pilot.pause()
            text = transcript_text(app)
            assert ARCHIVED == ["old-ideas"]
            assert "✓ archive_note" in text and "archived old-ideas" in text
            assert "Shouted and archived." in app.chat.query(ReplyView).last().text
    assert server.tool_messages(2)[-1]["content"] == "archived old-ideas"
