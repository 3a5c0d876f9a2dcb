"""Asking for a line or a block of text: a session's new name, a memory's text (and its kind)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static, TextArea


class TextPromptScreen(ModalScreen[str | None]):
    """One line of text; Enter saves, Esc cancels. Dismisses the stripped text or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__(classes="modal")
        self.title_text, self.value, self.placeholder = title, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content.styled(self.title_text, "bold"), classes="dialog-title")
            yield Input(self.value, placeholder=self.placeholder, id="text-prompt")
            yield Static(Content("Enter saves · Esc cancels"), classes="dialog-text")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)


class MemoryEditScreen(ModalScreen[tuple[str, str] | None]):
    """A memory's text and kind (new or edited); ctrl+s saves. Dismisses (text, kind) or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+s", "save", "Save", priority=True)]
    KINDS = ("fact", "turn", "artifact", "summary")  # memory.records.KINDS

    def __init__(self, title: str, text: str = "", kind: str = "fact") -> None:
        super().__init__(classes="modal")
        self.title_text, self.text, self.kind = title, text, kind if kind in self.KINDS else "fact"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -memory-edit"):
            yield Static(Content.styled(self.title_text, "bold"), classes="dialog-title")
            yield Select([(k, k) for k in self.KINDS], value=self.kind, allow_blank=False, id="memory-kind")
            yield TextArea(self.text, id="memory-text", soft_wrap=True, show_line_numbers=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.notify("A memory needs some text.", severity="warning", timeout=3)
            return
        self.dismiss((text, str(self.query_one(Select).value)))
