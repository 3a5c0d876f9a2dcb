"""The memory browser: search and filter long-term memory, read one memory in full, add one, edit
one (re-embedded), forget one (confirmed), and see the turns it was recalled in and why.

With an empty search box it lists the newest memories; `kind:` `session:` `after:` `before:` in
the box filter (tui/memory_query.py). The store (Chroma and the embedder) is only touched in
worker threads; results come back as `Results` messages.
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
from assistant.tui.fmt import local_time
from assistant.tui.safe import clean, one_line

if TYPE_CHECKING:
    from assistant.tui.app import ThroughlineApp

RESULTS = 30
RECENT = 50
TEXT_MIN = 20
FIXED_COLUMNS = 5 + 8 + 10 + 4 * 2 + 1  # score, kind, date, cell padding, scrollbar


class MemoryScreen(Screen):
    app: ThroughlineApp

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("d,delete", "forget", "Forget", id="memory_forget"),
        Binding("a", "add", "Add", id="memory_add"),
        Binding("e", "edit", "Edit", id="memory_edit"),
        Binding("w", "why", "Why recalled", id="memory_why"),
        Binding("ctrl+f,slash", "focus_search", "Search", show=False),
    ]

    @dataclass
    class Results(Message):
        query: str
        rows: list[tuple[Any, float | None, str]]  # (memory.Memory, score or None, how it was found)
        error: Failed | None = None

    @dataclass
    class Saved(Message):
        id: str | None
        error: Failed | None = None

    @dataclass
    class Recalls(Message):
        id: str
        recalls: list[Any]
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
            yield Input(placeholder="Search (Enter) · kind:fact session:q3 after:2026-05-01 before:… · empty: newest",
                        id="memory-search")
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
        from assistant.tui.memory_query import parse_filter

        wanted = parse_filter(query)
        try:
            store = self.app.backend.get().store
            if wanted.problem:
                self.post_message(self.Results(query, [], Failed(wanted.problem, "InputError")))
                return
            if wanted.text:
                hits = store.search(wanted.text, k=RESULTS, kind=wanted.kind, session=wanted.session,
                                    since=wanted.since, until=wanted.until)
                rows = [(hit.memory, hit.score, hit.why()) for hit in hits if wanted.admits(hit.memory)]
            else:
                admitted = (m for m in store.all(kind=wanted.kind) if wanted.admits(m))
                newest = sorted(admitted, key=lambda m: m.created_at, reverse=True)[:RECENT]
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
            note.update(Content(f"{len(message.rows)} memories {what} · a add · e edit · d forget · w why recalled"))
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

    def _show_details(self, recalls: list[Any] | None = None) -> None:
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
        parts: list[Any] = [("\n".join(header), "dim"), "\n\n", clean(memory.text)]
        if recalls is not None:
            parts.append(("\n\nRecalled in", "bold"))
            for r in recalls:
                parts += [f"\n• {one_line(r.session, 24)} turn {r.turn} ({local_time(r.created_at)}): "
                          f"score {r.score:.2f}", (f" · {one_line(r.why, 60)}" if r.why else "", "dim"),
                          ("\n  “" + one_line(r.request, 70) + "”", "italic")]
            if not recalls:
                parts.append(("\nno kept turn recalled it (turns older than the session's last 40 are not kept)", "dim"))
        else:
            parts.append(("\n\nw: the turns that recalled it, and why", "dim"))
        detail.update(Content.assemble(*parts))

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

    # -- adding and editing ----------------------------------------------------------------------
    def action_add(self) -> None:
        from assistant.tui.screens.text_prompt import MemoryEditScreen

        def done(result: tuple[str, str] | None) -> None:
            if result is not None:
                self.save(None, *result)

        self.app.push_screen(MemoryEditScreen("Add a memory"), done)

    def action_edit(self) -> None:
        from assistant.tui.screens.text_prompt import MemoryEditScreen

        memory = self.selected
        if memory is None:
            return

        def done(result: tuple[str, str] | None) -> None:
            if result is not None and result != (memory.text, memory.kind):
                self.save(memory, *result)

        self.app.push_screen(MemoryEditScreen("Edit memory (it is embedded again)", memory.text, memory.kind), done)

    @work(thread=True, exit_on_error=False)
    def save(self, old: Any, text: str, kind: str) -> None:
        """Store a new memory, or `old` with new text/kind under its id (the store re-embeds it)."""
        from dataclasses import replace

        from memory import Memory

        try:
            store = self.app.backend.get().store
            if old is None:
                memory = Memory(text=text, kind=kind, metadata={"source": "tui"})
            else:
                memory = replace(old, text=text, kind=kind, namespace=None,
                                 metadata={**old.metadata, "edited": True})
            self.post_message(self.Saved(store.add(memory)))
        except Exception as exc:  # the edge: report, keep the list as it was
            self.post_message(self.Saved(None, failure(exc)))

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        if message.error is not None:
            self.app.show_error(message.error)
            return
        self.notify("Memory saved.", timeout=2)
        self.search(self.query_text)

    # -- why it was recalled ----------------------------------------------------------------------
    def action_why(self) -> None:
        memory = self.selected
        if memory is not None:
            self.find_recalls(memory.id)

    @work(thread=True, exclusive=True, group="memory-why", exit_on_error=False)
    def find_recalls(self, memory_id: str) -> None:
        from assistant.tui.memory_query import recalls_of

        try:
            self.post_message(self.Recalls(memory_id, recalls_of(memory_id, self.app.backend.get().sessions.list())))
        except Exception as exc:  # the edge: say why
            self.post_message(self.Recalls(memory_id, [], failure(exc)))

    @on(Recalls)
    def _recalls(self, message: Recalls) -> None:
        memory = self.selected
        if memory is None or memory.id != message.id:
            return
        if message.error is not None:
            self.app.show_error(message.error)
            return
        self._show_details(message.recalls)

    def action_focus_search(self) -> None:
        self.query_one(Input).focus()

    def action_back(self) -> None:
        self.app.pop_screen()
