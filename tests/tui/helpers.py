"""Building the app under test: the same factory as `run_tui`, with LangChain's fake chat model
(or a real one) injected, and small Pilot helpers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage

from assistant.agent import Assistant
from assistant.events import Finished, Timings
from assistant.settings import load_settings
from assistant.tui.app import ThroughlineApp


class RecordingFakeChat(FakeListChatModel):
    """FakeListChatModel that keeps every prompt it streamed an answer to."""

    prompts: list[list[BaseMessage]] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompts = []

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self.prompts.append(list(messages))
        yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)

    @property
    def last_system(self) -> str:
        return str(self.prompts[-1][0].content)


class FrozenTimings(Assistant):
    """An Assistant whose Finished events carry fixed timings, for snapshots."""

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        events = super().stream(*args, **kwargs)
        try:
            for event in events:
                if isinstance(event, Finished):
                    event = dataclasses.replace(event, timings=Timings(total_ms=1500.0, tokens=42))
                yield event
        finally:
            events.close()


def make_app(
    responses: list[str] | None = None,
    *,
    chat_model: Any = None,
    sleep: float | None = None,
    chains: Any = None,
    store: Any = None,
    frozen: bool = False,
    preload: bool = False,
    session: str | None = None,
    **settings: Any,
) -> tuple[ThroughlineApp, Any]:
    """The app with a fake model answering `responses` in turn; returns (app, model)."""
    model = chat_model or RecordingFakeChat(responses=responses or ["ok"], sleep=sleep)
    cls = FrozenTimings if frozen else Assistant

    def factory(cfg, progress):
        return cls(settings=cfg, chat_model=model, chains=chains, store=store, progress=progress)

    app = ThroughlineApp(settings=load_settings(**settings), assistant_factory=factory, preload=preload,
                         session=session)
    return app, model


async def wait_for(pilot, condition: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    """Let the app run until `condition()` is truthy (its value is returned) or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        await pilot.pause(0.05)


async def ready(pilot) -> None:
    """Wait until the thread is open (the session loaded) and the input is focused."""
    await wait_for(pilot, lambda: pilot.app.chat.session_name is not None, what="the session to open")
    await pilot.pause()


async def send(pilot, text: str, *, wait: bool = True, timeout: float = 90.0) -> None:
    """Type `text` into the message box, press Enter, and (by default) wait for the reply to end."""
    from assistant.tui.widgets.prompt import PromptInput

    prompt = pilot.app.chat.query_one(PromptInput)
    prompt.focus()
    prompt.insert(text)
    await pilot.press("enter")
    if wait:
        await wait_for(pilot, lambda: not pilot.app.chat.replying, timeout, what=f"the reply to {text!r}")
        await pilot.pause()


def transcript_text(app: ThroughlineApp) -> str:
    """Everything the transcript shows, as plain text: messages, replies, tool lines, notices."""
    from textual.widgets import Markdown, Static

    parts: list[str] = []
    for widget in app.chat.transcript.query(".user-message, .notice, .reply-header, .reply-meta, .tool, Markdown"):
        if isinstance(widget, Markdown):
            parts.append(widget.source)
        elif isinstance(widget, Static):
            parts.append(str(widget.content))
    return "\n".join(parts)


def no_blink(app: ThroughlineApp) -> None:
    """Cursor blinking would make screenshots depend on timing."""
    from textual.widgets import Input, TextArea

    for widget in app.screen.query("TextArea, Input"):
        if isinstance(widget, (TextArea, Input)):
            widget.cursor_blink = False


def run(coro) -> Any:
    return asyncio.run(coro)
