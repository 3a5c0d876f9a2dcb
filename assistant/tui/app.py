"""`ThroughlineApp`: the chat UI. It renders the agent's events and sends requests; no agent logic.

    run_tui(settings)                                   # what `assistant` (no arguments) calls
    ThroughlineApp(settings=..., assistant_factory=lambda settings, progress: Assistant(...))

The first frame paints before anything heavy is imported: the Assistant is built, and the model
loaded, in a background thread started after the first refresh, reporting through the `progress`
callback as `ModelProgress` messages. Lighter things the first frame does without wait for it
too (tests/tui/test_startup.py lists them): the [tui.keys] check, the side panel's parts (made on
first F2), the model's progress bar (made when loading begins), the event records. The input works
at once; a request sent before the model is ready waits for it in its own worker. Errors met while
building or loading are shown as a notification and in the transcript; the app keeps running.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from assistant.settings import Settings, load_settings
from assistant.tui.backend import AssistantFactory, Backend, failure
from assistant.tui.config import TuiConfig, load_tui_config
from assistant.tui.screens.chat import ChatScreen

if TYPE_CHECKING:
    from assistant.events import Failed

log = logging.getLogger(__name__)
PREFS_FILE = "tui.json"
EXIT_GRACE_S = 2.0


class ThroughlineApp(App[int]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live elsewhere
    TITLE = "Throughline"
    BINDINGS = [
        Binding("f1", "help", "Help", id="help"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit"),
    ]

    model_state: reactive[str] = reactive("idle")  # idle | loading | ready | error
    model_stage: reactive[str] = reactive("")
    model_fraction: reactive[float | None] = reactive(None)

    @dataclass
    class ModelProgress(Message):
        stage: str
        fraction: float | None

    @dataclass
    class ModelLoaded(Message):
        error: Failed | None = None

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        assistant_factory: AssistantFactory | None = None,
        session: str | None = None,
        preload: bool = True,
        tui_config: TuiConfig | None = None,
    ) -> None:
        super().__init__()
        self.tui_config = tui_config or load_tui_config()
        self.settings = settings or load_settings()
        self.backend = Backend(self.settings, assistant_factory, self._progress)
        self.preload = preload
        self._session = session
        self._prefs_path = Path(self.settings.data_dir) / PREFS_FILE
        self.turn_threads: set[threading.Thread] = set()  # worker threads inside a turn
        theme = self.tui_config.theme or self._load_prefs().get("theme")  # config.toml's [tui] first
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self._config_problems = list(self.tui_config.problems)
        if self.tui_config.theme and self.tui_config.theme not in self.available_themes:
            self._config_problems.append(f"[tui] theme {self.tui_config.theme!r} is not a theme; known: "
                                         + ", ".join(sorted(self.available_themes)))

    # -- start-up -------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        self.chat = ChatScreen(session=self._session)
        return self.chat

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, lambda theme: self._save_prefs(theme=theme.name))
        if self.tui_config.keys:  # an id no binding has matches nothing: harmless until checked below
            self.set_keymap(dict(self.tui_config.keys))
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        """What the first frame does not need: checking [tui.keys] imports every screen that has
        bindings (the memory browser's DataTable among them), and the model starts loading."""
        keys = self.tui_config.keys
        if keys:
            from assistant.tui.keys import binding_ids

            unknown = sorted(set(keys) - set(binding_ids()))
            if unknown:
                self._config_problems.append(f"[tui.keys] {unknown[0]!r} is not a binding id; F1 lists them")
                self.set_keymap({k: v for k, v in keys.items() if k not in unknown})
        for problem in self._config_problems:
            self.notify(problem, title="config", severity="warning", timeout=10, markup=False)
        if self.preload:
            self._start_preload()

    def _start_preload(self) -> None:
        # A daemon thread, not a worker: quitting must not wait for a 25 s model conversion.
        threading.Thread(target=self._preload, name="throughline-preload", daemon=True).start()

    def _preload(self) -> None:
        """Build the assistant, load the model, then warm the router and memory (thread)."""
        try:
            bot = self.backend.get()
            self.post_message(self.ModelProgress(f"loading {self.settings.model}", None))
            bot.load_model()
        except Exception as exc:  # the edge: shown in the status line and the transcript
            self.post_message(self.ModelLoaded(failure(exc)))
            return
        self.post_message(self.ModelLoaded())
        try:
            bot.route("hello")
            bot.store.warm()  # the search index, so the first request does not build it
        except Exception as exc:  # the first turn meets it again and reports it in full; say it now
            failed = failure(exc)
            if failed.exit_code == 70:  # a bug, not a known failure: keep its traceback for the log
                log.exception("warming up the router and memory failed")
            self.post_message(self.ModelProgress(f"warm-up failed: {failed.message}", -1.0))

    def _progress(self, stage: str, fraction: float | None) -> None:
        """The Assistant's progress callback; called from worker threads."""
        self.post_message(self.ModelProgress(stage, fraction))

    def on_throughline_app_model_progress(self, message: ModelProgress) -> None:
        if message.fraction is not None and message.fraction < 0:
            self.notify(message.stage, severity="warning", markup=False)
            return
        if self.model_state == "ready":
            return
        self.model_state = "loading"
        self.model_stage = message.stage
        self.model_fraction = message.fraction

    def on_throughline_app_model_loaded(self, message: ModelLoaded) -> None:
        if message.error is None:
            self.model_is_ready()
            return
        self.model_state = "error"
        self.show_error(message.error)
        self.call_later(
            self.chat.transcript.add_notice, f"✗ {message.error.error}: {message.error.message}", "error"
        )

    def model_is_ready(self) -> None:
        if self.model_state != "ready":
            self.model_state = "ready"
            self.model_fraction = 1.0

    def show_error(self, error: Failed) -> None:
        self.notify(error.message, title=error.error, severity="error", timeout=8, markup=False)

    # -- actions available everywhere --------------------------------------------------------------
    def action_help(self) -> None:
        from assistant.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_memory(self) -> None:
        from assistant.tui.screens.memory import MemoryScreen

        if not isinstance(self.screen, MemoryScreen):
            self.push_screen(MemoryScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        chat = self.chat

        def on_chat(action: str):
            async def run() -> None:
                while self.screen is not chat and len(self.screen_stack) > 1:
                    self.pop_screen()
                await chat.run_action(action)
            return run

        yield SystemCommand("New session", "Start a new thread (ctrl+n)", on_chat("new_session"))
        yield SystemCommand("Sessions", "Open a past thread (F3)", on_chat("sessions"))
        yield SystemCommand("Memory browser", "Search and forget long-term memories (F4)", self.action_memory)
        yield SystemCommand("Toggle context panel", "Recalled memories and artifacts (F2)", on_chat("toggle_context"))
        yield SystemCommand("Cancel reply", "Stop the reply in progress (Esc)", on_chat("cancel"))
        yield SystemCommand("Copy last reply", "Copy the last reply to the clipboard", on_chat("copy_last_reply"))
        yield SystemCommand("Export thread as Markdown", "Write this thread to <data dir>/exports/ (ctrl+s)",
                            on_chat("export('md')"))
        yield SystemCommand("Export thread as JSON", "The thread with each turn's events, to <data dir>/exports/",
                            on_chat("export('json')"))
        yield SystemCommand("Rename session", "Give this thread another name", on_chat("rename_session"))
        yield SystemCommand("Delete session", "Delete this thread (asks first; memories stay unless you say)",
                            on_chat("delete_session"))
        yield SystemCommand("Fork at last turn", "A new thread with this one's turns and artifacts so far",
                            on_chat("fork_last"))
        yield SystemCommand("Cycle route", "Force the next message's chain (ctrl+r)", on_chat("cycle_route"))
        for prefix in (None, *chat.routes):
            name = prefix or "auto"
            yield SystemCommand(
                f"Route next message: {name}",
                "Let the router decide" if prefix is None else f"Send the next message with {prefix}",
                lambda prefix=prefix: chat.force_route(prefix),
            )
        yield SystemCommand("Help", "Keys, prefixes and tips (F1)", self.action_help)

    # -- preferences ----------------------------------------------------------------------------
    def _load_prefs(self) -> dict:
        try:
            data = json.loads(self._prefs_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save_prefs(self, **changes: object) -> None:
        prefs = {**self._load_prefs(), **changes}
        try:
            self._prefs_path.parent.mkdir(parents=True, exist_ok=True)
            self._prefs_path.write_text(json.dumps(prefs), encoding="utf-8")
        except OSError as exc:
            self.notify(f"could not save preferences: {exc.strerror or exc}", severity="warning", markup=False)


def run_tui(settings: Settings | None = None, *, session: str | None = None, fast_exit: bool = True) -> int:
    """Run the chat UI until the person quits; returns the exit code.

    With `fast_exit` (the default, for the `assistant` command) the process ends here, once the
    memory store is closed and output flushed: tearing down torch and Chroma at interpreter exit
    costs another 1.5-2 s for nothing. Embedders that want control back pass `fast_exit=False`.
    """
    from assistant.tui.images import choose_renderer

    tui_config = load_tui_config()
    choose_renderer(tui_config.images)  # may ask the terminal: only possible before the app starts
    app = ThroughlineApp(settings=settings, session=session, tui_config=tui_config)
    result = app.run() or 0
    return leave(app.backend, app.turn_threads, result, fast_exit=fast_exit)


def leave(backend: Backend, turn_threads: set[threading.Thread], result: int, *, fast_exit: bool) -> int:
    """End the UI's work: close the assistant (pending memory writes, summaries, the store), or,
    when a turn is stuck inside one long model step and would hold the process open, wait a
    bounded time for the memory writes and keep what is left on disk for the next start
    (`Assistant.abandon`) — only then end the process."""
    deadline = time.monotonic() + EXIT_GRACE_S
    while turn_threads and time.monotonic() < deadline:
        time.sleep(0.05)  # a cancelled turn stops at its next token and closes its stream
    stuck = bool(turn_threads)
    if stuck:
        if backend.built is not None:
            backend.built.abandon(EXIT_GRACE_S)
    else:
        backend.close()
    if fast_exit or stuck:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(result)
    return result
