"""The memory browser: search long-term memory, read one memory in full, forget it (confirmed).

With an empty search box it lists the newest memories. The store (Chroma and the embedder) is
only touched in worker threads; results come back as `Results` messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from assistant.events import Failed
from assistant.tui.backend import failure
from assistant.tui.safe import clean, one_line

if TYPE_CHECKING:
    from assistant.tui.app import ThroughlineApp

RESULTS = 30
RECENT = 50
TEXT_MIN = 20
FIXED_COLUMNS = 5 + 8 + 10 + 4 * 2 + 1  # score, kind, date, cell padding, scrollbar


def how_found(hit: Any) -> str:
    """The search signals behind a hit, when the store reports them (similarity, sources)."""
    parts = []
    similarity = getattr(hit, "similarity", None)
    if similarity is not None:
        parts.append(f"similarity {similarity:.2f}")
    sources = getattr(hit, "sources", ())
    if sources:
        parts.append("found by " + ", ".join(sources))
    return " · ".join(parts)


class MemoryScreen(Screen):
    app: ThroughlineApp

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("d,delete", "forget", "Forget"),
        Binding("ctrl+f,slash", "focus_search", "Search", show=False),
    ]

    @dataclass
    class Results(Message):
        query: str
        rows: list[tuple[Any, float | None, str]]  # (memory.Memory, score or None, how it was found)
        error: Failed | None = None

    @dataclass
    class Forgotten(Message):
        id: str
        found: bool
        error: Failed | None = None

    def __init__(self) -> None:
        super().__init__()
        self.memories: dict[str, tuple[Any, float | None, str]] = {}
        self.query_text = ""

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        with Vertical(id="memory-body"):
            yield Input(placeholder="Search memories (Enter) — empty lists the newest", id="memory-search")
            with Horizontal(id="memory-main"):
                yield DataTable(id="memory-results", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="memory-details"):
                    yield Static(Content("Select a memory to see it in full."), id="memory-detail")
            yield Static(Content("loading…"), id="memory-note")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "memory"
        self.query_one(Input).focus()
        self.search("")

    def on_resize(self) -> None:
        self.call_after_refresh(self._render_rows)

    def _render_rows(self) -> None:
        """(Re)build the table; the text column takes what the others leave, so rows never
        scroll sideways."""
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_column("score", key="score", width=5)
        table.add_column("kind", key="kind", width=8)
        table.add_column("date", key="date", width=10)
        table.add_column("text", key="text", width=max(TEXT_MIN, table.size.width - FIXED_COLUMNS))
        for memory, score, _how in self.memories.values():
            table.add_row(
                "–" if score is None else f"{score:.2f}", Text(memory.kind), f"{memory.created_at:%Y-%m-%d}",
                Text(one_line(memory.text, 200), no_wrap=True, overflow="ellipsis"), key=memory.id,
            )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    # -- searching ------------------------------------------------------------------------------
    @on(Input.Submitted, "#memory-search")
    def _submitted(self, event: Input.Submitted) -> None:
        self.search(event.value.strip())
        if self.query_one(DataTable).row_count:
            self.query_one(DataTable).focus()

    @work(thread=True, exclusive=True, group="memory-search", exit_on_error=False)
    def search(self, query: str) -> None:
        try:
            store = self.app.backend.get().store
            if query:
                rows = [(hit.memory, hit.score, how_found(hit)) for hit in store.search(query, k=RESULTS)]
            else:
                newest = sorted(store.all(), key=lambda m: m.created_at, reverse=True)[:RECENT]
                rows = [(memory, None, "") for memory in newest]
            self.post_message(self.Results(query, rows))
        except Exception as exc:  # the edge: the store failed; say so in the note line
            self.post_message(self.Results(query, [], failure(exc)))

    @on(Results)
    def _results(self, message: Results) -> None:
        same_query = message.query == self.query_text
        self.query_text = message.query
        self.memories = {row[0].id: row for row in message.rows}
        self._render_rows()  # keeps the cursor's row: after a forget, the next memory is selected
        if not same_query:
            self.query_one(DataTable).move_cursor(row=0)
        note = self.query_one("#memory-note", Static)
        if message.error is not None:
            note.update(Content(f"✗ {message.error.error}: {message.error.message}"))
            self.app.show_error(message.error)
        elif not message.rows:
            note.update(Content("No memories match." if message.query else "No memories yet."))
        else:
            what = f"for “{one_line(message.query, 40)}”" if message.query else "newest first"
            note.update(Content(f"{len(message.rows)} memories {what} · d forgets the selected one"))
        self._show_details()

    # -- details --------------------------------------------------------------------------------
    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_details()

    @property
    def selected(self) -> Any:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.memories.get(str(key), (None, None))[0]

    def _show_details(self) -> None:
        detail = self.query_one("#memory-detail", Static)
        memory = self.selected
        if memory is None:
            detail.update(Content("Select a memory to see it in full."))
            return
        _, score, how = self.memories[memory.id]
        meta = [f"{key}: {one_line(value, 60)}" for key, value in sorted(memory.metadata.items())]
        header = [
            f"kind: {memory.kind}" + ("" if score is None else f"   score: {score:.2f}"),
            *([how] if how else []),
            f"session: {memory.session or '–'}",
            f"created: {memory.created_at:%Y-%m-%d %H:%M} UTC",
            f"id: {memory.id}",
            *meta,
        ]
        detail.update(Content.assemble(("\n".join(header), "dim"), "\n\n", clean(memory.text)))

    # -- forgetting -----------------------------------------------------------------------------
    def action_forget(self) -> None:
        from assistant.tui.screens.confirm import ConfirmScreen

        memory = self.selected
        if memory is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.forget(memory.id)

        self.app.push_screen(
            ConfirmScreen("Forget this memory?", f"[{memory.kind}] {one_line(memory.text, 160)}\n\n"
                          "It will no longer be recalled. This cannot be undone.", yes="Forget"),
            confirmed,
        )

    @work(thread=True, exit_on_error=False)
    def forget(self, memory_id: str) -> None:
        try:
            self.post_message(self.Forgotten(memory_id, self.app.backend.get().store.forget(memory_id)))
        except Exception as exc:  # the edge: report, keep the list as it was
            self.post_message(self.Forgotten(memory_id, False, failure(exc)))

    @on(Forgotten)
    def _forgotten(self, message: Forgotten) -> None:
        if message.error is not None:
            self.app.show_error(message.error)
            return
        self.notify("Memory forgotten." if message.found else "That memory was already gone.", timeout=2)
        self.search(self.query_text)

    def action_focus_search(self) -> None:
        self.query_one(Input).focus()

    def action_back(self) -> None:
        self.app.pop_screen()
