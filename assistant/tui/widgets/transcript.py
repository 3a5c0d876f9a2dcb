"""The chat transcript: the person's messages, streamed replies, tool activity and notices.

Messages (the person's and the assistant's) can be focused — alt+↑/alt+↓ or a click — and then
`c` copies the message, `k` its last code block, `f` forks the thread at that turn; they post
`MessageAction` and the chat screen acts. A `PendingMessage` is one queued behind a running reply.
A chart (an image artifact) is drawn inline under the reply that made it (see tui/images.py).
A `ReplyView` (widgets/reply.py) is one assistant reply as it streams.

A reopened thread draws only the turns that fill the transcript about twice over (each past reply
is Markdown: Textual lays out a hundred of them in seconds). Scrolling up to the top draws the
turns above, a screenful at a time, keeping the view where it was; `EarlierTurns` at the top
also draws TURNS_PER_PAGE more on Enter or a click.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from assistant.tui.fmt import hard_breaks, local_time, plural
from assistant.tui.safe import clean
from assistant.tui.widgets.messages import (
    MessageAction,
    Notice,
    PendingMessage,
    Selectable,
    UserMessage,
    last_code_block,
)
from assistant.tui.widgets.reply import ReplyView
from assistant.tui.widgets.tool_activity import MAX_TOOL_OUTPUT_LINES, ToolActivity

TURNS_SHOWN = 8  # a reopened thread draws at most its last 8 turns, fewer when they fill the view
FILL_SCREENS = 2  # ...enough to fill the transcript this many times over (estimated)
TURNS_PER_PAGE = 20  # EarlierTurns: Enter or a click draws this many more
TURN_CHROME_ROWS = 6  # margins, reply header and metadata line, Markdown block spacing

__all__ = ["MAX_TOOL_OUTPUT_LINES", "MessageAction", "Notice", "PastReply", "PendingMessage", "ReplyView",
           "ToolActivity", "Transcript", "UserMessage", "last_code_block"]

if TYPE_CHECKING:
    from assistant.events import Artifact
    from assistant.sessions import TurnRecord


def estimated_rows(turn: TurnRecord, width: int) -> int:
    """Rows a past turn takes at `width` columns, roughly (no layout): its lines, wrapped."""
    width = max(10, width - 6)  # borders and padding
    text = f"{turn.request}\n{turn.reply}"
    return TURN_CHROME_ROWS + sum(max(1, math.ceil(len(line) / width)) for line in text.split("\n"))


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
        self._revealing = True  # drawing turns above (or opening a thread): no second reveal meanwhile

    def on_mount(self) -> None:
        self.anchor()

    async def add_user(self, text: str) -> UserMessage:
        message = UserMessage(text)
        await self.mount(message)
        self.anchor()
        return message

    async def start_reply(self, waiting: str = "…", typing: Callable[[], float] | None = None) -> ReplyView:
        reply = ReplyView(waiting=waiting) if typing is None else ReplyView(waiting=waiting, typing=typing)
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
        """Replace the transcript with a persisted thread's turns (charts drawn under their turn):
        the last ones, enough to fill the view FILL_SCREENS times (at most TURNS_SHOWN), with an
        `EarlierTurns` line above them for the rest."""
        self._revealing = True
        await self.remove_children()
        turns = list(turns)
        self._artifacts = {a.id: a for a in artifacts}
        shown = self._tail_filling(turns, FILL_SCREENS * self._view_rows(), TURNS_SHOWN)
        self._earlier = turns[: len(turns) - shown]
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
        self._revealing = False

    def _view_rows(self) -> int:
        return self.size.height or self.app.size.height

    def _tail_filling(self, turns: list[TurnRecord], rows: int, most: int) -> int:
        """How many of the last `turns` (at least one, at most `most`) fill `rows` rows."""
        width, count, filled = self.size.width or self.app.size.width, 0, 0
        for turn in reversed(turns):
            if count >= most or (count and filled >= rows):
                break
            count += 1
            filled += estimated_rows(turn, width)
        return count

    def _turn_widgets(self, turns: list[TurnRecord]) -> list[Widget]:
        widgets: list[Widget] = []
        for turn in turns:
            widgets.append(UserMessage(turn.request))
            made = [self._artifacts[e["artifact"]["id"]] for e in turn.events
                    if e.get("event") == "ArtifactSaved" and e.get("artifact", {}).get("id") in self._artifacts]
            widgets.append(PastReply(turn, made))
        return widgets

    async def show_earlier(self, count: int = TURNS_PER_PAGE) -> list[Widget]:
        """Draw the `count` turns before the ones shown, above them; returns their widgets."""
        marker = self.query(EarlierTurns).first() if self.query(EarlierTurns) else None
        if marker is None or not self._earlier:
            return []
        page, self._earlier = self._earlier[-count:], self._earlier[:-count]
        self.release_anchor()
        widgets = self._turn_widgets(page)
        await self.mount_all(widgets, after=marker)
        if self._earlier:
            marker.count = len(self._earlier)
            marker.refresh()
        else:
            await marker.remove()
        return widgets

    # -- drawing earlier turns as the person scrolls up -------------------------------------------
    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value and new_value < self._view_rows() / 2:
            self._reveal_soon()

    def on_mouse_scroll_up(self) -> None:
        if self.scroll_y <= 0:  # a thread shorter than the view does not scroll: reveal anyway
            self._reveal_soon()

    def _reveal_soon(self) -> None:
        if self._earlier and not self._revealing:
            self._revealing = True
            self.call_later(self._reveal_above)

    async def _reveal_above(self) -> None:
        """Draw a screenful of earlier turns above, keeping in view what the person was reading."""
        height = self.virtual_size.height
        added = await self.show_earlier(self._tail_filling(self._earlier, self._view_rows(), TURNS_PER_PAGE))
        if added:
            self.call_after_refresh(self._keep_view, height, added, 10)
        else:
            self._revealing = False

    def _keep_view(self, height: int, added: list[Widget], tries: int) -> None:
        """Once the turns drawn above are laid out, scroll down by their height."""
        from textual.widgets import Markdown

        if not all(w.is_attached for w in added):  # another thread was opened meanwhile
            return
        laid_out = all(md.children or not md.source for w in added for md in w.query(Markdown))
        if not laid_out and tries > 0:
            self.call_after_refresh(self._keep_view, height, added, tries - 1)
            return
        self.scroll_to(y=self.scroll_y + self.virtual_size.height - height, animate=False, immediate=True)
        self._revealing = False


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
