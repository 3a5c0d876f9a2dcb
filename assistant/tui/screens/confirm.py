"""A yes/no question (dismisses True only on an explicit yes), and deleting a session: keep its
memories, forget them too, or cancel."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, text: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__(classes="modal")
        self.title_text, self.text, self.yes, self.no = title, text, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content.styled(self.title_text, "bold"), classes="dialog-title")
            yield Static(Content(self.text), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button(f"{self.no} (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class DeleteSessionScreen(ModalScreen[str | None]):
    """Dismisses "keep" (delete the thread, keep its memories), "forget" (and its memories) or None."""

    BINDINGS = [
        Binding("y", "answer('keep')", "Delete"),
        Binding("m", "answer('forget')", "Delete and forget memories"),
        Binding("n,escape", "answer(None)", "Cancel"),
    ]

    def __init__(self, name: str, turns: int) -> None:
        super().__init__(classes="modal")
        self.session_name, self.turns = name, turns

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content.styled("Delete this session?", "bold"), classes="dialog-title")
            yield Static(Content(
                f"“{self.session_name}” ({self.turns} turns), its workspace and artifact files will be deleted. "
                "What it taught the long-term memory stays, unless you choose to forget that too."
            ), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Delete (y)", variant="error", id="keep")
                yield Button("Delete + forget memories (m)", variant="error", id="forget")
                yield Button("Cancel (n)", variant="primary", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)
