"""The message box: Enter sends, Shift+Enter / Ctrl+J / Alt+Enter start a new line, ↑ in the empty
box takes back the last queued message.

It is a TextArea so pasted multi-line text (a CSV, a traceback) arrives intact. It never waits
for anything: typing works while the model loads or a reply streams, and a streaming reply holds
back its redraws while the person types (`pause_in`, see widgets/reply.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = ("shift+enter", "ctrl+j", "alt+enter")
TYPING_PAUSE_S = 0.3  # no key for this long: the person has paused typing
PLACEHOLDER = "Message  (Enter sends · Shift+Enter new line · /code /write /analyze /chat)"


class PromptInput(TextArea):
    @dataclass
    class Submitted(Message):
        prompt: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt

    class EditLast(Message):
        """↑ in the empty box: take the last queued message back to edit it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id, soft_wrap=True, tab_behavior="focus", show_line_numbers=False,
            compact=True, placeholder=PLACEHOLDER,
        )
        self._last_key = float("-inf")  # monotonic time of the last key pressed here

    def pause_in(self) -> float:
        """Seconds until the person counts as having paused typing; 0 when they are not typing."""
        return max(0.0, self._last_key + TYPING_PAUSE_S - time.monotonic())

    def show_route(self, prefix: str | None) -> None:
        """Say in the empty box which chain the next message goes to."""
        self.placeholder = f"Message for {prefix}  (Enter sends · ctrl+r changes the route)" if prefix else PLACEHOLDER

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
            return
        if event.key == "up" and not self.text:
            event.stop()
            event.prevent_default()
            self.post_message(self.EditLast())
            return
        self._last_key = time.monotonic()  # typing (sending is not)
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    def insert_reference(self, reference: str) -> None:
        """Insert `reference` at the cursor with a space on either side as needed."""
        row, col = self.cursor_location
        line = self.document[row] if row < self.document.line_count else ""
        before = "" if col == 0 or line[col - 1 : col].isspace() else " "
        self.insert(f"{before}{reference} ")
        self.focus()
