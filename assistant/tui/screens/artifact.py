"""One artifact, highlighted: `c` copies it, `i` inserts a reference into the message, `o` opens
its file in the system's viewer, Esc closes. An image (a chart) is drawn (see tui/images.py).

Dismisses "insert" when the person asked for a reference, else None.
"""

from __future__ import annotations

from pathlib import Path
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
        Binding("o", "open_file", "Open file"),
    ]
    IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp", ".bmp")

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
                if self.is_image:
                    from assistant.tui.images import inline_image

                    picture = inline_image(a, max_width=110, max_rows=40)
                    if picture is not None:
                        yield picture
                    yield Static(Content(self.image_text()), classes="code")
                else:
                    body = highlighted(self.content, lexer_for(a.kind, a.path), dark=self.app.current_theme.dark)
                    yield Static(body, classes="code")
        yield Footer()

    @property
    def content(self) -> str:
        return self.artifact.content or "(empty)"

    @property
    def is_image(self) -> bool:
        return self.artifact.kind == "chart" or (self.artifact.path or "").lower().endswith(self.IMAGE_SUFFIXES)

    def image_text(self) -> str:
        path = Path(self.artifact.path) if self.artifact.path else None
        if path is None or not path.is_file():
            where = "its file is missing" if path is not None else "it was not saved to a file"
            return f"An image, but {where}.\n\n{self.artifact.content}".rstrip()
        size = path.stat().st_size
        return (f"Image file ({path.suffix.lstrip('.').upper()}, {size / 1024:,.1f} KB): press o to open it, "
                f"c to copy its path.\n\n{self.artifact.content}").rstrip()

    def action_copy(self) -> None:
        text = self.artifact.path if self.is_image and self.artifact.path else self.artifact.content
        self.app.copy_to_clipboard(text or "")
        self.notify("Copied the path." if text == self.artifact.path else "Copied to the clipboard.", timeout=2)

    def action_open_file(self) -> None:
        path = Path(self.artifact.path) if self.artifact.path else None
        if path is None or not path.is_file():
            self.notify("This artifact has no file to open.", severity="warning", timeout=3)
            return
        self.app.open_url(path.resolve().as_uri())
        self.notify(f"Opening {path.name}…", timeout=2)
