"""Keys, prefixes and what the panels mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# Throughline

One thread for writing, coding and analysis. Each reply is made by a **chain**; what one chain
made (a draft, a script, a table) is **context** for the next. `Esc` closes this help.

## Sending
- `Enter` send · `Shift+Enter` or `Ctrl+J` new line · paste keeps its lines
- `Esc` or `Ctrl+C` cancel the reply in progress
- `/write` `/code` `/analyze` `/chat` at the start pick the chain yourself
- `Ctrl+R` force the next message's chain: auto → /write → /code → /analyze → /chat
- `/new` `/sessions` `/memory` `/context` `/help` `/quit` work as commands

## Context
- `F2` or `Ctrl+B` side panel: memories recalled for this turn (score, kind, session, date)
  and the session's artifacts
- on an artifact: `Enter` view it · `i` insert a reference `[artifact:ID title]` · `c` copy it

## Threads and memory
- `Ctrl+N` new session · `F3` past sessions: open one and its transcript and artifacts come back
- `F4` memory browser: search, see details, `d` forget (asks first)

## Everything else
- `Ctrl+P` command palette: every action, and themes
- `F1` this help · `Ctrl+Q` quit

Generated code never runs without asking, unless you started with `--auto-run`.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self) -> None:
        super().__init__(classes="modal")

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog -help"):
            yield Markdown(HELP)
