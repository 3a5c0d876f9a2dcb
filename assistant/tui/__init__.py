"""Throughline's chat UI — the only package that imports textual.

    app.py      ThroughlineApp (the app factory, dependencies injected) and run_tui()
    app.tcss    all of the app's styles
    backend.py  the worker-thread side: building the Assistant, driving one turn
    config.py   the [tui] table of config.toml: theme, images, keys
    keys.py     the remappable bindings and the keys in force (for the help)
    results.py  tool results for people: checks, tables, diffs, runs; plugin renderers
    images.py   charts inline: a terminal graphics protocol (textual-image) or half blocks
    memory_query.py  the memory browser's filter and "why recalled"
    safe.py     terminal safety: control characters shown, never executed
    fmt.py      local times, highlighted code, plurals
    screens/    chat (+ chat_threads: queue, copy, fork, rename, delete, export), sessions, memory
                browser, help, approval, confirm, text prompts, artifact viewer
    widgets/    transcript (+ messages, tool_activity), message box, context panel, status line

Importing this package is cheap; textual loads when `run_tui` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.settings import Settings

__all__ = ["run_tui"]


def run_tui(settings: Settings | None = None, *, session: str | None = None, fast_exit: bool = True) -> int:
    """Run the chat UI until the person quits; see `assistant.tui.app.run_tui`."""
    from assistant.tui.app import run_tui as run

    return run(settings, session=session, fast_exit=fast_exit)
