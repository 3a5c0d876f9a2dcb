"""Throughline's chat UI — the only package that imports textual.

    app.py      ThroughlineApp (the app factory, dependencies injected) and run_tui()
    app.tcss    all of the app's styles
    backend.py  the worker-thread side: building the Assistant, driving one turn
    safe.py     terminal safety: control characters shown, never executed
    screens/    chat (main), sessions, memory browser, help, approval, confirm, artifact viewer
    widgets/    transcript, message box, context panel, route/model status

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
