"""Asked before generated code runs (unless started with --auto-run). Dismisses True to run it.

The safe answer is the default: focus starts on "Don't run", Escape and `n` decline, and `y` only
counts once the dialog has been up for a moment, so keys typed into the message box as it opens
cannot approve anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from assistant.events import ApprovalNeeded
from assistant.tui.fmt import highlighted


class ApprovalScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Run it"),
        Binding("n,escape", "answer(False)", "Don't run"),
    ]

    ARM_DELAY_S = 0.4

    def __init__(self, code: str, language: str = "python", confinement: str = "") -> None:
        super().__init__(classes="modal")
        self.code = code
        self.language = language
        self.confinement = confinement  # what ApprovalNeeded said: plainly "audit hook only" when so
        self._armed_at = float("inf")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -approval"):
            yield Static(Content.styled(f"Run this {self.language} code?", "bold"), classes="dialog-title")
            yield Static(Content(
                "The assistant wrote it and wants to run it in the session's workspace."
            ), classes="dialog-text")
            if self.confinement:
                yield Static(Content(f"Sandbox: {self.confinement}"), classes="dialog-text", id="sandbox-level")
            with VerticalScroll(classes="code-box"):
                code = highlighted(self.code, self.language, dark=self.app.current_theme.dark)
                yield Static(code, classes="code")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Run it (y)", variant="warning", id="run")
                yield Button("Don't run (n)", variant="primary", id="deny")

    def on_mount(self) -> None:
        self.query_one("#deny", Button).focus()
        self._armed_at = time.monotonic() + self.ARM_DELAY_S

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "run")

    def action_answer(self, approved: bool) -> None:
        if approved and time.monotonic() < self._armed_at:
            return  # typed ahead, not an answer
        self.dismiss(approved)


def ask_approval(
    app: App, code: str, *, cancelled: Callable[[], bool], answered: Callable[[bool], None],
    asked: ApprovalNeeded | None = None,
) -> bool:
    """Show ApprovalScreen from a worker thread and block until it is answered.

    Returns False (don't run) if the turn is cancelled or the app stops meanwhile."""
    done = threading.Event()
    answer = [False]

    def dismissed(approved: bool | None) -> None:
        answer[0] = bool(approved)
        done.set()
        answered(answer[0])

    try:
        screen = ApprovalScreen(code, asked.language, asked.sandbox) if asked else ApprovalScreen(code)
        app.call_from_thread(app.push_screen, screen, dismissed)
    except RuntimeError:  # the app is shutting down
        return False
    while not done.wait(0.1):
        if cancelled() or not app.is_running:
            return False
    return answer[0]
