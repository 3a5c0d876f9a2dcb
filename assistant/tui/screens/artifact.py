"""One artifact, highlighted: `c` copies it, `i` inserts a reference into the message, Esc closes.

Dismisses "insert" when the person asked for a reference, else None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from assistant.tui.fmt import highlighted, lexer_for, local_time
from assistant.tui.safe import one_line

if TYPE_CHECKING:
    from assistant.events import Artifact


class ArtifactScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "Close"),
        Binding("c", "copy", "Copy"),
        Binding("i", "dismiss('insert')", "Insert reference"),
    ]

    def __init__(self, artifact: Artifact) -> None:
        super().__init__(classes="modal")
        self.artifact = artifact

    def compose(self) -> ComposeResult:
        a = self.artifact
        with Vertical(classes="dialog -viewer"):
            yield Static(Content.styled(one_line(a.title, 70), "bold"), classes="dialog-title")
            yield Static(Content(
                f"{a.kind} · v{a.version} · made by {a.route} · {local_time(a.created_at)}\n"
                f"{one_line(a.path or 'not saved to a file', 100)}"
            ), classes="dialog-text")
            with VerticalScroll(classes="code-box"):
                body = highlighted(self.content, lexer_for(a.kind, a.path), dark=self.app.current_theme.dark)
                yield Static(body, classes="code")
        yield Footer()

    @property
    def content(self) -> str:
        return self.artifact.content or "(empty)"

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.artifact.content)
        self.notify("Copied to the clipboard.", timeout=2)
