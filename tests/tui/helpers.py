"""Building the app under test: the same factory as `run_tui`, with LangChain's fake chat model
(or a real one) injected, and small Pilot helpers."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage

from assistant.agent import Assistant
from assistant.chains.base import ChainRun, NewArtifact, PromptChain, short_title
from assistant.chains.registry import ChainRegistry, default_chains
from assistant.events import Finished, Recalled, RecalledMemory, Timings
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


@dataclass
class SimpleChain(PromptChain):
    """One model call, and the artifact kind of the built-in chain of the same name. The UI tests
    that need a stable transcript (snapshots, panel actions) use these instead of the built-in
    chains, whose behaviour (running code, repairing it) is tested where they live."""

    artifact_kind: str | None = None

    def artifacts(self, run: ChainRun, text: str) -> tuple[NewArtifact, ...]:
        if self.artifact_kind == "code":
            match = re.search(r"```[\w-]*\n(.*?)```", text, re.DOTALL)
            if match:
                code = match.group(1).strip()
                name = re.search(r"^def (\w+)", code, re.MULTILINE)
                return (NewArtifact("code", f"{name.group(1)}.py" if name else "snippet.py", code),)
            return ()
        if self.artifact_kind:
            return (NewArtifact(self.artifact_kind, short_title(run.request), text),)
        return ()


def simple_chains() -> ChainRegistry:
    """writing, coding, analysis and chat as SimpleChains, with the built-ins' routing examples."""
    builtin = default_chains(plugins=False)
    registry = ChainRegistry()
    for name, kind in (("writing", "draft"), ("coding", "code"), ("analysis", "analysis"), ("chat", None)):
        real = builtin.get(name)
        registry.register(SimpleChain(
            name=name, description=real.description, prefix=real.prefix, system_prompt=real.system_prompt,
            examples=tuple(real.examples), artifact_kind=kind,
        ))
    return registry


class FrozenTimings(Assistant):
    """An Assistant whose Finished events carry fixed timings (and, if given, whose Recalled events
    carry fixed memories), for snapshots."""

    recalled: tuple[RecalledMemory, ...] | None = None

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        events = super().stream(*args, **kwargs)
        try:
            for event in events:
                if isinstance(event, Finished):
                    event = dataclasses.replace(event, timings=Timings(total_ms=1500.0, tokens=42))
                elif isinstance(event, Recalled) and self.recalled is not None:
                    event = dataclasses.replace(event, memories=self.recalled)
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
    recalled: tuple[RecalledMemory, ...] | None = None,
    preload: bool = False,
    session: str | None = None,
    **settings: Any,
) -> tuple[ThroughlineApp, Any]:
    """The app with a fake model answering `responses` in turn; returns (app, model)."""
    model = chat_model or RecordingFakeChat(responses=responses or ["ok"], sleep=sleep)
    cls = FrozenTimings if frozen else Assistant

    def factory(cfg, progress):
        bot = cls(settings=cfg, chat_model=model, chains=chains, store=store, progress=progress)
        if recalled is not None:
            bot.recalled = recalled
        return bot

    app = ThroughlineApp(settings=load_settings(**settings), assistant_factory=factory, preload=preload,
                         session=session)
    return app, model


def seed_memories():
    """Three memories with fixed ids and dates in the test's store."""
    from memory import Memory, MemoryStore

    settings = load_settings()
    store = MemoryStore(settings.data_dir / "memory", namespace=settings.user)
    store.add_many([
        Memory(id="fact-name", text="The user's name is Ana.", kind="fact", session="intro",
               created_at=datetime(2026, 5, 7, 13, 56, tzinfo=timezone.utc)),
        Memory(id="fact-style", text="Ana prefers short sentences in every draft.", kind="fact", session="intro",
               created_at=datetime(2026, 5, 7, 13, 57, tzinfo=timezone.utc)),
        Memory(id="turn-q3", text="User: plot revenue by month\nAssistant: Revenue peaked in March.", kind="turn",
               session="q3", created_at=datetime(2026, 5, 6, 9, 0, tzinfo=timezone.utc), metadata={"route": "analysis"}),
    ])
    return store


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


@dataclass
class ScriptedToolChain(SimpleChain):
    """A SimpleChain that first replays `steps` (tool events, or callables given the run returning
    events or a NewArtifact) — for tests of how the transcript shows tool results and images."""

    steps: tuple[Any, ...] = ()

    def run(self, run: ChainRun, messages: list[BaseMessage]):
        made = []
        for step in self.steps:
            produced = step(run) if callable(step) else step
            if isinstance(produced, NewArtifact):
                made.append(produced)
            else:
                yield produced
        result = yield from super().run(run, messages)
        return dataclasses.replace(result, artifacts=(*result.artifacts, *made))


def scripted_chains(name: str, *steps: Any) -> ChainRegistry:
    """simple_chains() with the chain called `name` replaying `steps` first (see ScriptedToolChain)."""
    registry = ChainRegistry()
    for existing in simple_chains():
        if existing.name == name:
            registry.register(ScriptedToolChain(
                name=existing.name, description=existing.description, prefix=existing.prefix,
                system_prompt=existing.system_prompt, examples=tuple(existing.examples), steps=steps))
        else:
            registry.register(existing)
    return registry


def bar_chart_png(path) -> str:
    """A small deterministic bar chart drawn with Pillow (matplotlib's output varies by machine)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (120, 60), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for i, height in enumerate((20, 35, 50, 28)):
        draw.rectangle((10 + i * 28, 58 - height, 30 + i * 28, 58), fill=(31, 119, 180))
    draw.line((5, 58, 115, 58), fill=(0, 0, 0), width=2)
    image.save(path)
    return str(path)
