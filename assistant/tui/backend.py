"""The UI's side of the agent, run only in worker threads: building the Assistant, driving a turn.

Nothing here imports the agent at module level: `assistant.agent` pulls in LangChain, and the first
frame must not wait for it. `Backend.get()` builds the Assistant on first use, in whichever worker
thread asks first. `drive_turn` turns `Assistant.stream()` into calls of `emit(event)`, batching
tokens so the UI gets at most ~20 text updates a second, and closes the stream when cancelled so
the model stops generating.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assistant.errors import from_layer

if TYPE_CHECKING:
    from assistant.agent import Assistant
    from assistant.events import Failed
    from assistant.settings import Settings

Progress = Callable[[str, "float | None"], None]
AssistantFactory = Callable[["Settings", Progress], "Assistant"]
TOKEN_FLUSH_S = 0.05


def default_factory(settings: Settings, progress: Progress) -> Assistant:
    from assistant.agent import Assistant

    return Assistant(settings=settings, progress=progress)


class Backend:
    """The one Assistant of a UI, built lazily and thread-safely."""

    def __init__(self, settings: Settings, factory: AssistantFactory | None, progress: Progress) -> None:
        self.settings = settings
        self._factory = factory or default_factory
        self._progress = progress
        self._lock = threading.Lock()
        self._assistant: Assistant | None = None

    def get(self) -> Assistant:
        """The Assistant, built now if needed. Blocks; call from worker threads only."""
        with self._lock:
            if self._assistant is None:
                self._assistant = self._factory(self.settings, self._progress)
                load_tool_renderers(self._assistant)
            return self._assistant

    @property
    def built(self) -> Assistant | None:
        return self._assistant

    def close(self) -> None:
        with self._lock:
            if self._assistant is not None:
                self._assistant.close()


def load_tool_renderers(bot: Any) -> None:
    """Collect the tools' own result views (`Tool.render`) for the transcript: the Assistant's
    tools when it has a registry, else the built-in and plugin tools."""
    from tools import ToolRegistry, default_registry

    from assistant.tui.results import use_renderers

    registry = getattr(bot, "tools", None)
    if not isinstance(registry, ToolRegistry):
        registry = default_registry()
    use_renderers({tool.name: tool.render for tool in registry if tool.render is not None})


def failure(exc: BaseException) -> Failed:
    """An exception as the Failed event a face shows; bugs are labelled as such, not hidden."""
    from assistant.events import Failed  # events are not needed for the first frame (test_startup)

    known = from_layer(exc)
    if known is not None:
        return Failed(message=str(known), error=type(known).__name__, exit_code=known.exit_code)
    return Failed(message=f"internal error: {type(exc).__name__}: {exc}", error=type(exc).__name__, exit_code=70)


def drive_turn(
    backend: Backend,
    request: str,
    session: str,
    *,
    emit: Callable[[Any], None],
    cancelled: Callable[[], bool],
    approve: Callable[[str], bool] | None,
    flush_s: float = TOKEN_FLUSH_S,
) -> None:
    """Run one turn, emitting its events; returns when it ends, fails or is cancelled."""
    from assistant.events import Token

    try:
        events = backend.get().stream(request, session, approve=approve)
    except Exception as exc:  # the edge: constructing the agent failed; show it, keep the UI up
        emit(failure(exc))
        return
    pending: list[str] = []
    last_flush = 0.0

    def flush() -> None:
        nonlocal last_flush
        if pending:
            emit(Token("".join(pending)))
            pending.clear()
            last_flush = time.monotonic()

    try:
        for event in events:
            if cancelled():
                return
            if isinstance(event, Token):
                pending.append(event.text)
                if time.monotonic() - last_flush >= flush_s:
                    flush()
                continue
            flush()
            emit(event)
        if not cancelled():
            flush()
    except Exception as exc:  # the edge: an unexpected error below us is shown, not swallowed
        flush()
        emit(failure(exc))
    finally:
        events.close()  # stops the model's generation when we leave early
