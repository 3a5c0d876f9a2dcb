"""The chat transcript: the person's messages, streamed replies, tool activity and notices.

A `ReplyView` is one assistant reply. Its text streams into a Markdown widget through
`Markdown.get_stream()`, which coalesces fragments so a fast model never re-renders per token.
Tool activity interrupts the text: the current Markdown segment is closed, the tool line is
mounted, and later tokens start a new segment. All model text is `clean()`ed first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from assistant.tui.fmt import hard_breaks, local_time
from assistant.tui.safe import clean, one_line

if TYPE_CHECKING:
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownStream

    from assistant.events import Artifact, Timings
    from assistant.sessions import TurnRecord

MAX_TOOL_OUTPUT_LINES = 12


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class UserMessage(Static):
    """What the person sent, shown verbatim (never as markup)."""

    def __init__(self, text: str) -> None:
        super().__init__(Content(clean(text)), classes="user-message")


class Notice(Static):
    """A one-line note in the transcript: `info`, `error` or `cancelled`."""

    def __init__(self, text: str, kind: str = "info") -> None:
        super().__init__(Content(clean(text)), classes=f"notice -{kind}")


class ToolActivity(Static):
    """A tool run inline: `running python…`, then its output and duration."""

    def __init__(self, name: str, arguments: dict[str, Any] | None = None) -> None:
        self.tool_name = name
        super().__init__(Content.styled(f"▸ running {clean(name)}…", "italic"), classes="tool -running")

    def finish(self, result: Any = None, error: str | None = None, duration_s: float = 0.0) -> None:
        self.remove_class("-running")
        self.add_class("-error" if error else "-done")
        mark = "✗" if error else "✓"
        head = Content.styled(f"{mark} {clean(self.tool_name)} · {duration_s:.2f} s", "bold")
        body = clean(error) if error else _describe_result(result)
        lines = body.rstrip("\n").splitlines()
        if len(lines) > MAX_TOOL_OUTPUT_LINES:
            hidden = len(lines) - MAX_TOOL_OUTPUT_LINES
            lines = lines[:MAX_TOOL_OUTPUT_LINES] + [f"… {_plural(hidden, 'more line')}"]
        self.update(Content.assemble(head, *(("\n" + line) for line in lines)) if lines else head)


def _describe_result(result: Any) -> str:
    """A tool result as text: a run's summary, stdout, stderr and exit code; anything else as is."""
    if result is None:
        return ""
    if isinstance(result, Mapping):
        fields = dict(result)
    elif hasattr(result, "stdout"):
        names = ("summary", "stdout", "stderr", "exit_code", "timed_out")
        fields = {name: getattr(result, name, None) for name in names}
    else:
        return clean(result)
    if "stdout" not in fields and "stderr" not in fields:
        return "\n".join(f"{clean(key)}: {one_line(value, 100)}" for key, value in fields.items())
    parts = [clean(fields.get("summary") or ""), clean(fields.get("stdout") or "").rstrip("\n"),
             clean(fields.get("stderr") or "").rstrip("\n")]
    if fields.get("timed_out"):
        parts.append("(timed out)")
    elif fields.get("exit_code"):
        parts.append(f"(exit code {fields['exit_code']})")
    return "\n".join(p for p in parts if p)


class ReplyView(Vertical):
    """One assistant reply: a route header, streamed Markdown, tool lines and a metadata line."""

    def __init__(self, *, waiting: str = "…") -> None:
        super().__init__(classes="reply")
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
        await self._close_stream()
        await self.mount(Notice(
            f"◆ saved {artifact.kind} · {one_line(artifact.title, 60)} (v{artifact.version}) · F2 to see it",
            "artifact",
        ))

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
        if self.route is None:
            self.set_route(route)
        parts = [route]
        if timings is not None:
            parts.append(f"{timings.total_ms / 1000:.1f} s")
        parts.append(f"{self.recalled} {'memory' if self.recalled == 1 else 'memories'} recalled")
        if timings is not None and timings.tokens:
            parts.append(_plural(timings.tokens, "token"))
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


class Transcript(VerticalScroll):
    """The thread, newest at the bottom; stays pinned to the end while a reply streams."""

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

    async def show_turns(self, turns: Iterable[TurnRecord], intro: str | None = None) -> None:
        """Replace the transcript with a persisted thread's turns."""
        await self.remove_children()
        widgets: list[Static | Vertical] = []
        if intro:
            widgets.append(Notice(intro, "info"))
        for turn in turns:
            widgets.append(UserMessage(turn.request))
            widgets.append(PastReply(turn))
        if widgets:
            await self.mount_all(widgets)
        self.scroll_end(animate=False)
        self.anchor()


class PastReply(Vertical):
    """A reply restored from the session file: its text and route, no timings."""

    def __init__(self, turn: TurnRecord) -> None:
        super().__init__(classes="reply -past")
        self.turn = turn

    def compose(self):
        from textual.widgets import Markdown

        yield Static(Content.styled(clean(self.turn.route), "bold"), classes="reply-header")
        yield Markdown(hard_breaks(clean(self.turn.reply)), classes="reply-body", open_links=False)
        yield Static(Content(f"{clean(self.turn.route)} · {local_time(self.turn.created_at)}"),
                     classes="reply-meta")
