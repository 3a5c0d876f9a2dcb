"""Keys, prefixes and what the panels mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# Throughline

One thread for writing, coding and analysis: each reply is handled by a **chain**, and what one
chain made (a draft, a script, a table) is **context** for the next.

## Sending
| key | |
|---|---|
| `Enter` | send |
| `Shift+Enter` / `Ctrl+J` | new line |
| `Esc` / `Ctrl+C` | cancel the reply in progress |
| `Ctrl+R` | force the next message's chain: auto → /write → /code → /analyze → /chat |

Start a message with `/write`, `/code`, `/analyze` or `/chat` to pick the chain yourself.
`/new`, `/sessions`, `/memory`, `/help` and `/quit` work as commands.

## Context
| key | |
|---|---|
| `F2` / `Ctrl+B` | side panel: memories recalled for this turn, the session's artifacts |
| `Enter` on an artifact | view it |
| `i` / `c` on an artifact | insert a reference `[artifact:ID title]` / copy it |

## Threads and memory
| key | |
|---|---|
| `Ctrl+N` | new session |
| `F3` | past sessions: open one and its transcript and artifacts come back |
| `F4` | memory browser: search, see details, forget (`d`) |

## Everything else
| key | |
|---|---|
| `Ctrl+P` | command palette: every action, themes |
| `F1` | this help |
| `Ctrl+Q` | quit |

Generated code never runs without asking unless you started with `--auto-run`.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self) -> None:
        super().__init__(classes="modal")

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog -help"):
            yield Markdown(HELP)
