"""`ReplyView`: one assistant reply as it streams — route header, Markdown, tool lines, metadata.

Its text streams into a Markdown widget through `Markdown.get_stream()`; the worker thread already
joins tokens into ~20 batches a second (backend.drive_turn). Each redraw of a growing reply makes
Textual lay the whole screen out again (tens of ms on a busy machine), and a key pressed meanwhile
waits for it. So while the person types, the reply keeps collecting text and is redrawn only when
they pause (`TYPING_PAUSE_S`, see PromptInput.pause_in) or at the latest every `TYPING_REDRAW_S`:
keystrokes come first, and every token still reaches the screen.

Tool activity interrupts the text: the current Markdown segment is closed, the tool line is
mounted, and later tokens start a new segment. All model text is `clean()`ed first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from assistant.tui.fmt import hard_breaks, plural
from assistant.tui.safe import clean, one_line
from assistant.tui.widgets.messages import Notice, Selectable
from assistant.tui.widgets.tool_activity import ToolActivity

TYPING_REDRAW_S = 1.0  # while the person types, the streaming reply is redrawn at most this often

if TYPE_CHECKING:
    from textual.timer import Timer
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownStream

    from assistant.events import Artifact, Timings


def _not_typing() -> float:
    return 0.0


class ReplyView(Selectable, Vertical):
    """One assistant reply: a route header, streamed Markdown, tool lines and a metadata line.

    `typing` says how many seconds until the person has paused typing (0 when they are not
    typing); text that arrives meanwhile is held back, not lost (see the module's docstring)."""

    def __init__(self, *, waiting: str = "…", typing: Callable[[], float] = _not_typing) -> None:
        super().__init__(classes="reply message")
        self._waiting = waiting
        self._typing = typing
        self._stream: MarkdownStream | None = None
        self._segments: list[Markdown] = []
        self._streamed: list[str] = []
        self._unshown: list[str] = []  # streamed, not yet handed to the Markdown widget
        self._shown_at = 0.0  # when text was last handed to it (monotonic)
        self._redraw: Timer | None = None
        self._drawing = asyncio.Lock()  # one hand-over at a time: a timer's and a tool line's
        self._tools: dict[str, ToolActivity] = {}
        self._approval: Notice | None = None
        self.route: str | None = None
        self.recalled = 0
        self.done = False
        self._final: str | None = None

    def compose(self):
        yield Static(Content.styled(self._waiting, "italic"), classes="reply-header")

    @property
    def header(self) -> Static:
        return self.query_one(".reply-header", Static)

    @property
    def text(self) -> str:
        """The reply's text (cleaned): the final text once finished, else what streamed so far."""
        return self._final if self._final is not None else "".join(self._streamed)

    @property
    def message_text(self) -> str:
        return self.text

    def set_waiting(self, text: str) -> None:
        if self.route is None and not self.done:
            self.header.update(Content.styled(text, "italic"))

    def set_route(self, route: str, why: str = "", score: float | None = None) -> None:
        self.route = route
        detail = why if why in ("prefix", "follow-up") or score is None else f"{why} {score:.2f}"
        self.header.update(
            Content.assemble((clean(route), "bold"), (f"  {clean(detail)}" if detail else "", "dim"))
        )

    async def show(self, event: Any, *, model_ready: bool = True) -> None:
        """Render one of the turn's events (see assistant/events.py)."""
        from assistant.events import (
            ApprovalNeeded,
            ArtifactSaved,
            Failed,
            Finished,
            Recalled,
            Routed,
            Token,
            ToolFinished,
            ToolStarted,
        )

        if isinstance(event, Token):
            await self.write(event.text)
        elif isinstance(event, Routed):
            self.set_route(event.route, event.why, event.score)
        elif isinstance(event, Recalled):
            self.recalled = len(event.memories)
            if not model_ready:
                self.set_waiting("waiting for the model…")
        elif isinstance(event, ToolStarted):
            await self.tool_started(event.name, event.arguments)
        elif isinstance(event, ToolFinished):
            await self.tool_finished(event.name, event.result, event.error, event.duration_s)
        elif isinstance(event, ApprovalNeeded):
            await self.approval_asked(event.language)
        elif isinstance(event, ArtifactSaved):
            await self.artifact_saved(event.artifact)
        elif isinstance(event, Finished):
            await self.finish(event.text, event.route, event.timings)
        elif isinstance(event, Failed):
            await self.fail(event.message, event.error)

    async def write(self, fragment: str) -> None:
        text = clean(fragment)
        if not text:
            return
        self._streamed.append(text)
        self._unshown.append(text)
        if self._redraw is None:
            delay = self._hold_for()
            if delay <= 0:
                await self._show_unshown()
            else:
                self._redraw = self.set_timer(delay, self._redraw_due)

    def _hold_for(self) -> float:
        """Seconds to hold streamed text back: until the person pauses typing, at most until
        TYPING_REDRAW_S after the last redraw; 0 when they are not typing."""
        pause = self._typing()
        if pause <= 0:
            return 0.0
        return min(pause, max(0.0, self._shown_at + TYPING_REDRAW_S - time.monotonic()))

    async def _redraw_due(self) -> None:
        self._redraw = None
        delay = self._hold_for()
        if delay > 0:  # they typed again since the timer was set
            self._redraw = self.set_timer(delay, self._redraw_due)
            return
        await self._show_unshown()

    async def _show_unshown(self) -> None:
        """Hand the text held back to the Markdown widget (a new segment after a tool line)."""
        if self._redraw is not None:
            self._redraw.stop()
            self._redraw = None
        async with self._drawing:
            if not self._unshown:
                return
            text = "".join(self._unshown)
            self._unshown.clear()
            if self._stream is None:
                # Imported here, not at the top: the first frame does not need markdown-it.
                from textual.widgets import Markdown

                markdown = Markdown(classes="reply-body", open_links=False)
                self._segments.append(markdown)
                await self.mount(markdown)
                self._stream = Markdown.get_stream(markdown)
            self._shown_at = time.monotonic()
            await self._stream.write(hard_breaks(text))

    async def _close_stream(self) -> None:
        await self._show_unshown()
        async with self._drawing:
            if self._stream is not None:
                stream, self._stream = self._stream, None
                await stream.stop()

    async def tool_started(self, name: str, arguments: dict[str, Any] | None = None) -> None:
        await self._close_stream()
        activity = ToolActivity(name, arguments)
        self._tools[name] = activity
        await self.mount(activity)

    async def tool_finished(self, name: str, result: Any, error: str | None, duration_s: float) -> None:
        await self._close_stream()
        activity = self._tools.pop(name, None)
        if activity is None:
            activity = ToolActivity(name)
            await self.mount(activity)
        activity.finish(result, error, duration_s)

    async def approval_asked(self, language: str) -> None:
        await self._close_stream()
        self._approval = Notice(f"◇ waiting for your approval to run the {language} code", "approval")
        await self.mount(self._approval)

    def approval_answered(self, approved: bool) -> None:
        if self._approval is not None:
            self._approval.update(Content(
                "▶ approved: running the code" if approved else "■ not run: you declined"
            ))
            self._approval.set_class(not approved, "-declined")

    async def artifact_saved(self, artifact: Artifact) -> None:
        from assistant.tui.images import inline_image

        await self._close_stream()
        await self.mount(Notice(
            f"◆ saved {artifact.kind} · {one_line(artifact.title, 60)} (v{artifact.version}) · F2 to see it",
            "artifact",
        ))
        image = inline_image(artifact)
        if image is not None:
            await self.mount(image)

    async def finish(self, text: str, route: str, timings: Timings | None) -> None:
        await self._close_stream()
        final = clean(text)
        if len(self._segments) <= 1 and final != self.text:
            # The chain normalises its answer (fences code, prepends a table profile): show that.
            if self._segments:
                await self._segments[0].update(hard_breaks(final))
            elif final:
                from textual.widgets import Markdown

                markdown = Markdown(hard_breaks(final), classes="reply-body", open_links=False)
                self._segments.append(markdown)
                await self.mount(markdown)
        self.done = True
        self._final = final
        self.add_class("-turn")  # a finished turn, in the session's record
        if self.route is None:
            self.set_route(route)
        parts = [route]
        if timings is not None:
            parts.append(f"{timings.total_ms / 1000:.1f} s")
        parts.append(f"{self.recalled} {'memory' if self.recalled == 1 else 'memories'} recalled")
        if timings is not None and timings.tokens:
            parts.append(plural(timings.tokens, "token"))
        await self.mount(Static(Content(" · ".join(parts)), classes="reply-meta"))

    async def fail(self, message: str, error: str) -> None:
        await self._close_stream()
        self.done = True
        if self.route is None:
            self.header.update(Content.styled("error", "bold"))
        await self.mount(Notice(f"✗ {error}: {message}", "error"))

    async def cancel(self) -> None:
        await self._close_stream()
        if not self.done:
            self.done = True
            if self.route is None:
                self.header.update(Content.styled("cancelled", "italic"))
            await self.mount(Notice("■ cancelled", "cancelled"))

    async def close(self) -> None:
        await self._close_stream()
