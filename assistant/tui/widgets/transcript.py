"""The chat transcript: the person's messages, streamed replies, tool activity and notices.

Messages (the person's and the assistant's) can be focused — alt+↑/alt+↓ or a click — and then
`c` copies the message, `k` its last code block, `f` forks the thread at that turn; they post
`MessageAction` and the chat screen acts. A `PendingMessage` is one queued behind a running reply.
A chart (an image artifact) is drawn inline under the reply that made it (see tui/images.py).

A `ReplyView` is one assistant reply. Its text streams into a Markdown widget through
`Markdown.get_stream()`, which coalesces fragments so a fast model never re-renders per token.
Tool activity interrupts the text: the current Markdown segment is closed, the tool line is
mounted, and later tokens start a new segment. All model text is `clean()`ed first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from assistant.tui.fmt import hard_breaks, local_time, plural
from assistant.tui.safe import clean, one_line
from assistant.tui.widgets.messages import MessageAction, PendingMessage, Selectable, UserMessage, last_code_block
from assistant.tui.widgets.tool_activity import MAX_TOOL_OUTPUT_LINES, ToolActivity

TURNS_SHOWN = 8  # a reopened thread draws its last turns; the rest on request (EarlierTurns)
TURNS_PER_PAGE = 20

__all__ = ["MAX_TOOL_OUTPUT_LINES", "MessageAction", "Notice", "PastReply", "PendingMessage", "ReplyView",
           "ToolActivity", "Transcript", "UserMessage", "last_code_block"]

if TYPE_CHECKING:
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownStream

    from assistant.events import Artifact, Timings
    from assistant.sessions import TurnRecord

class Notice(Static):
    """A one-line note in the transcript: `info`, `error` or `cancelled`."""

    def __init__(self, text: str, kind: str = "info") -> None:
        super().__init__(Content(clean(text)), classes=f"notice -{kind}")


class ReplyView(Selectable, Vertical):
    """One assistant reply: a route header, streamed Markdown, tool lines and a metadata line."""

    def __init__(self, *, waiting: str = "…") -> None:
        super().__init__(classes="reply message")
        self._waiting = waiting
        self._stream: MarkdownStream | None = None
        self._segments: list[Markdown] = []
        self._streamed: list[str] = []
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
        if self._stream is None:
            # Imported here, not at the top: the first frame does not need markdown-it.
            from textual.widgets import Markdown

            markdown = Markdown(classes="reply-body", open_links=False)
            self._segments.append(markdown)
            await self.mount(markdown)
            self._stream = Markdown.get_stream(markdown)
        self._streamed.append(text)
        await self._stream.write(hard_breaks(text))

    async def _close_stream(self) -> None:
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


class EarlierTurns(Static, can_focus=True):
    """`▲ 88 earlier turns`: a long thread opens with its last turns drawn; Enter or a click draws
    more (each past reply is Markdown, and a hundred of them take seconds to lay out)."""

    BINDINGS = [Binding("enter", "more", "Show earlier turns", show=False)]

    def __init__(self, count: int) -> None:
        super().__init__(classes="notice -earlier")
        self.count = count

    def render(self) -> Content:
        return Content.styled(f"▲ {plural(self.count, 'earlier turn')} · Enter or click to show "
                              f"{min(self.count, TURNS_PER_PAGE)} more", "dim italic")

    async def action_more(self) -> None:
        transcript = self.parent
        if isinstance(transcript, Transcript):
            await transcript.show_earlier()

    async def on_click(self) -> None:
        await self.action_more()


class Transcript(VerticalScroll):
    """The thread, newest at the bottom; stays pinned to the end while a reply streams."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._earlier: list[TurnRecord] = []  # a long thread's turns not drawn yet, oldest first
        self._artifacts: dict[str, Artifact] = {}

    def on_mount(self) -> None:
        self.anchor()

    async def add_user(self, text: str) -> UserMessage:
        message = UserMessage(text)
        await self.mount(message)
        self.anchor()
        return message

    async def start_reply(self, waiting: str = "…") -> ReplyView:
        reply = ReplyView(waiting=waiting)
        await self.mount(reply)
        self.anchor()
        return reply

    async def add_notice(self, text: str, kind: str = "info") -> Notice:
        notice = Notice(text, kind)
        await self.mount(notice)
        return notice

    async def add_pending(self, text: str) -> PendingMessage:
        """Queue `text` behind the reply in progress (shown last, after any earlier queued ones)."""
        message = PendingMessage(text)
        await self.mount(message)
        self.anchor()
        return message

    def turn_index(self, widget: Widget) -> int | None:
        """The session turn a message belongs to (0-based), or None when that turn did not finish
        (cancelled or failed replies are not in the session's record)."""
        children = list(self.children)
        if widget not in children:
            return None
        at = children.index(widget)
        if isinstance(widget, UserMessage):  # its reply is the next reply after it
            reply = next((w for w in children[at + 1:] if w.has_class("reply") or isinstance(w, UserMessage)), None)
            if reply is None or not reply.has_class("-turn"):
                return None
            at = children.index(reply)
        elif not widget.has_class("-turn"):
            return None
        return len(self._earlier) + sum(1 for w in children[: at + 1] if w.has_class("-turn")) - 1

    async def show_turns(
        self, turns: Iterable[TurnRecord], intro: str | None = None, artifacts: Iterable[Artifact] = ()
    ) -> None:
        """Replace the transcript with a persisted thread's turns (charts drawn under their turn);
        only the last TURNS_SHOWN are drawn, with an `EarlierTurns` line above them for the rest."""
        await self.remove_children()
        turns = list(turns)
        self._artifacts = {a.id: a for a in artifacts}
        self._earlier = turns[: max(0, len(turns) - TURNS_SHOWN)]
        widgets: list[Widget] = []
        if intro:
            widgets.append(Notice(intro, "info"))
        if self._earlier:
            widgets.append(EarlierTurns(len(self._earlier)))
        widgets += self._turn_widgets(turns[len(self._earlier):])
        if widgets:
            await self.mount_all(widgets)
        self.scroll_end(animate=False)
        self.anchor()

    def _turn_widgets(self, turns: list[TurnRecord]) -> list[Widget]:
        widgets: list[Widget] = []
        for turn in turns:
            widgets.append(UserMessage(turn.request))
            made = [self._artifacts[e["artifact"]["id"]] for e in turn.events
                    if e.get("event") == "ArtifactSaved" and e.get("artifact", {}).get("id") in self._artifacts]
            widgets.append(PastReply(turn, made))
        return widgets

    async def show_earlier(self) -> None:
        """Draw the next TURNS_PER_PAGE earlier turns above the ones shown."""
        marker = self.query(EarlierTurns).first() if self.query(EarlierTurns) else None
        if marker is None or not self._earlier:
            return
        page, self._earlier = self._earlier[-TURNS_PER_PAGE:], self._earlier[:-TURNS_PER_PAGE]
        self.release_anchor()
        await self.mount_all(self._turn_widgets(page), after=marker)
        if self._earlier:
            marker.count = len(self._earlier)
            marker.refresh()
        else:
            await marker.remove()


class PastReply(Selectable, Vertical):
    """A reply restored from the session file: its text and route, no timings; its charts inline."""

    def __init__(self, turn: TurnRecord, artifacts: Iterable[Artifact] = ()) -> None:
        super().__init__(classes="reply -past -turn message")
        self.turn = turn
        self.artifacts = list(artifacts)

    @property
    def message_text(self) -> str:
        return clean(self.turn.reply)

    def compose(self):
        from textual.widgets import Markdown

        from assistant.tui.images import inline_image

        yield Static(Content.styled(clean(self.turn.route), "bold"), classes="reply-header")
        yield Markdown(hard_breaks(clean(self.turn.reply)), classes="reply-body", open_links=False)
        for artifact in self.artifacts:
            image = inline_image(artifact)
            if image is not None:
                yield image
        yield Static(Content(f"{clean(self.turn.route)} · {local_time(self.turn.created_at)}"),
                     classes="reply-meta")
