"""The transcript's messages a person can act on: focusable, with keys that post `MessageAction`
(copy, copy the code block, fork there; a queued message: edit, drop). The chat screen acts.
A `Notice` is a one-line note between them (an error, a cancelled reply, a saved artifact)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from assistant.tui.safe import clean

_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1[ \t]*$", re.DOTALL | re.MULTILINE)


def last_code_block(text: str) -> str | None:
    """The body of the last fenced code block in `text`, or None when there is none."""
    blocks = _FENCE.findall(text)
    return blocks[-1][1].rstrip("\n") if blocks else None


@dataclass
class MessageAction(Message):
    """A focused message asked for: copy, copy_code, fork, back; a queued one also edit, drop."""

    widget: Widget
    action: str
    text: str


class Selectable(Widget):
    """Base of the transcript's messages: focusable, with keys that post a MessageAction."""

    can_focus = True
    BINDINGS = [
        Binding("c", "message('copy')", "Copy", id="copy_message"),
        Binding("k", "message('copy_code')", "Copy code", id="copy_code"),
        Binding("f", "message('fork')", "Fork here", id="fork_here"),
        Binding("escape", "message('back')", "Back to the message box", show=False),
    ]

    @property
    def message_text(self) -> str:
        raise NotImplementedError

    def action_message(self, action: str) -> None:
        self.post_message(MessageAction(self, action, self.message_text))


class UserMessage(Selectable, Static):
    """What the person sent, shown verbatim (never as markup)."""

    def __init__(self, text: str) -> None:
        self.text = clean(text)
        super().__init__(Content(self.text), classes="user-message message")

    @property
    def message_text(self) -> str:
        return self.text


class PendingMessage(Static, can_focus=True):
    """A message queued behind the reply in progress: sent when it ends. Enter or a click takes it
    back into the message box to edit; Delete drops it."""

    BINDINGS = [
        Binding("enter,e", "message('edit')", "Edit", id="edit_pending"),
        Binding("delete,backspace,d", "message('drop')", "Drop", id="drop_pending"),
    ]

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(classes="pending message")

    def render(self) -> Content:
        return Content.assemble(
            ("◷ pending · sent when the reply ends · ↑ or click to edit · Delete drops it\n", "dim italic"),
            clean(self.text),
        )

    def action_message(self, action: str) -> None:
        self.post_message(MessageAction(self, action, self.text))

    def on_click(self) -> None:
        self.action_message("edit")


class Notice(Static):
    """A one-line note in the transcript: `info`, `error` or `cancelled`."""

    def __init__(self, text: str, kind: str = "info") -> None:
        super().__init__(Content(clean(text)), classes=f"notice -{kind}")
