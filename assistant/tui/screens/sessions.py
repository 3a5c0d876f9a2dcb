"""Past sessions, newest first. Enter opens one (its transcript and artifacts come back), `n` starts
a new one, `r` renames the selected one, `d` deletes it (asks; its memories stay unless asked).
Dismisses the chosen session's name, NEW, or None."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from assistant.events import Failed
from assistant.tui.backend import failure
from assistant.tui.fmt import local_time
from assistant.tui.safe import one_line

if TYPE_CHECKING:
    from assistant.sessions import Session
    from assistant.tui.app import ThroughlineApp

NEW = "\0new"


class SessionsScreen(ModalScreen[str | None]):
    app: ThroughlineApp

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Back"),
        Binding("n", "new", "New session", id="sessions_new"),
        Binding("r", "rename", "Rename", id="sessions_rename"),
        Binding("d,delete", "delete", "Delete", id="sessions_delete"),
    ]

    @dataclass
    class Listed(Message):
        sessions: list[Session]
        error: Failed | None = None

    def __init__(self, current: str | None = None) -> None:
        super().__init__(classes="modal")
        self.current = current
        self.sessions: dict[str, Session] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -sessions"):
            yield Static(Content.styled("Sessions", "bold"), classes="dialog-title")
            yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
            yield Static(Content("loading…"), id="sessions-note", classes="dialog-text")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("session", "turns", "artifacts", "chain", "last active", "started with")
        table.focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        try:
            self.post_message(self.Listed(self.app.backend.get().sessions.list()))
        except Exception as exc:  # the edge: say why the list is empty
            self.post_message(self.Listed([], failure(exc)))

    @on(Listed)
    def _listed(self, message: Listed) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        self.sessions = {s.name: s for s in message.sessions}
        for s in message.sessions:
            mark = "● " if s.name == self.current else "  "
            table.add_row(
                Text(mark + one_line(s.name, 30)), str(len(s.turns)), str(len(s.artifacts)),
                Text(one_line(s.current_route or "–", 12)), Text(local_time(s.updated_at)),
                Text(one_line(s.turns[0].request, 50) if s.turns else ""), key=s.name,
            )
        note = self.query_one("#sessions-note", Static)
        if message.error is not None:
            note.update(Content(f"✗ {message.error.message}"))
        elif not message.sessions:
            note.update(Content("No saved sessions yet: a session is saved after its first reply. n starts a new one."))
        else:
            note.update(Content("Enter opens · n new · r rename · d delete · Esc goes back"))
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        self.dismiss(str(event.row_key.value))

    def action_new(self) -> None:
        self.dismiss(NEW)

    @property
    def selected(self) -> Session | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.sessions.get(str(key))

    def action_rename(self) -> None:
        if (session := self.selected) is not None:
            self.app.chat.action_rename_session(session.name, then=self._changed)

    def action_delete(self) -> None:
        if (session := self.selected) is not None:
            self.app.chat.action_delete_session(session.name, len(session.turns), then=self._changed)

    def _changed(self) -> None:
        self.current = self.app.chat.session_name
        self.load()
