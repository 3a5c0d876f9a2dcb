"""Keys, prefixes and what the panels mean; the table at the end lists the keys in force (after
`[tui.keys]` in config.toml) with their binding ids."""

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
- sent while a reply runs, a message is **queued** (shown pending) and goes when the reply ends;
  `↑` in the empty box (or a click on it) takes it back to edit, `Delete` on it drops it
- `/write` `/code` `/analyze` `/chat` at the start pick the chain yourself
- `Ctrl+R` force the next message's chain: auto → /write → /code → /analyze → /chat
- `/new` `/sessions` `/memory` `/context` `/help` `/quit` work as commands

## Context
- the status line's **context** meter: the prompt budget the last turn used (memories,
  artifacts, history)
- `F2` or `Ctrl+B` side panel: that budget broken down, the memories recalled for this turn
  (score, kind, session, date, why found) and the session's artifacts
- on an artifact: `Enter` view it · `i` insert a reference `[artifact:ID title]` · `c` copy it

## Messages
- `Alt+↑` / `Alt+↓` (or a click) focus a message: `c` copy it · `k` copy its code block ·
  `f` fork the thread there · `Esc` back to the message box
- charts are drawn in the transcript; `o` in the artifact viewer opens the file

## Threads and memory
- `Ctrl+N` new session · `F3` past sessions: open one, `r` rename, `d` delete (asks; its
  memories stay unless you say so)
- `Ctrl+S` export the thread as Markdown (JSON with events from `Ctrl+P`)
- `F4` memory browser: search (`kind:fact session:q3 after:2026-05-01` filter), `a` add,
  `e` edit, `d` forget, `w` the turns it was recalled in and why

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
        from assistant.tui.keys import keys_in_force

        table = ["## Keys in force", "", "Remap any in config.toml: `[tui.keys]` `id = \"keys\"`.", "",
                 "| where | keys | does | id |", "|---|---|---|---|"]
        table += [f"| {where} | `{keys}` | {what} | `{ident}` |" for where, ident, keys, what in keys_in_force(self.app)]
        with VerticalScroll(classes="dialog -help"):
            yield Markdown(HELP + "\n" + "\n".join(table))
