"""`assistant ask`: one turn, streamed to the terminal or gathered as one JSON object.

With `keep_alive` > 0 (the default) the turn runs in the resident agent (assistant/resident/),
which keeps the model, memory and router loaded between `ask`s; this process then imports no
torch, Chroma or LangChain. With `keep_alive = 0`, or when no agent can be reached or started, the
turn runs here, loading the model while memory opens and the router fits.
"""

from __future__ import annotations

import itertools
import sys
import threading
from typing import TYPE_CHECKING, Callable, Iterable

from assistant import errors
from assistant.errors import AssistantError
from assistant.events import Event, Failed, Finished, Reply, Token, gather

if TYPE_CHECKING:
    from assistant.agent import Assistant
    from assistant.settings import Settings

Progress = Callable[[str, "float | None"], None]


def run_ask(settings: "Settings", text: str, session: str, *, as_json: bool, progress: Progress) -> int:
    # With nobody at a terminal to say yes, pass no approver: the chain then says how to run
    # the code (--auto-run) instead of reporting that the person declined.
    interactive = not as_json and sys.stdin is not None and sys.stdin.isatty()
    if settings.keep_alive > 0 and _can_keep_an_agent():
        from assistant.models import parse_model_spec
        from assistant.resident.client import ResidentUnavailable, connect, cwd

        parse_model_spec(settings.model)  # an unknown spec fails here, not in an agent started for it
        try:
            connection = connect(settings, progress)
            approval = "auto" if settings.auto_run else "ask" if interactive else "none"
            events = connection.turn(text, session, approval=approval, approver=approve_at_terminal,
                                     cwd=cwd(), progress=progress, warn=_warn)
            first = next(events, None)
        except ResidentUnavailable as exc:
            _warn(f"{exc}; answering in this process")
        else:
            return _show(itertools.chain([first] if first is not None else [], events), as_json=as_json)
    return _ask_here(settings, text, session, as_json=as_json, interactive=interactive, progress=progress)


def _can_keep_an_agent() -> bool:
    """Unix sockets and user ids: the resident agent's private socket needs both (not on Windows,
    where every `ask` answers in its own process)."""
    import os
    import socket

    return hasattr(socket, "AF_UNIX") and hasattr(os, "getuid")


def _ask_here(settings: "Settings", text: str, session: str, *, as_json: bool, interactive: bool,
              progress: Progress) -> int:
    from assistant.collector import paused_until_ready

    ready = paused_until_ready()  # before the imports below: they are most of what loading allocates
    try:
        from assistant.agent import Assistant

        with Assistant(settings=settings, progress=progress) as bot:
            threads, failures = get_ready_in_background(bot, text)
            threading.Thread(target=lambda: (_join(threads), ready()), name="ready", daemon=True).start()

            def report() -> None:  # after a turn that succeeded (it did that work again itself)
                _join(threads)
                report_background(failures)

            events = bot.stream(text, session=session, approve=approve_at_terminal if interactive else None)
            return _show(events, as_json=as_json, finished=report)
    finally:
        ready()


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join()


def _show(events: Iterable[Event], *, as_json: bool, finished: Callable[[], None] = lambda: None) -> int:
    """Print a turn: streamed text (the route and time on stderr), or one JSON object. A Failed
    event is the one-line error and its exit code."""
    if as_json:
        reply = gather(events)
        if isinstance(reply, Failed):
            print(f"assistant: error: {reply.message}", file=sys.stderr)
            return reply.exit_code
        if not isinstance(reply, Reply):
            raise AssistantError("the turn ended without an answer")
        finished()
        from assistant.cli import print_json

        print_json(reply.to_json())
        return 0
    streamed = False
    for event in events:
        if isinstance(event, Token):
            sys.stdout.write(event.text)
            sys.stdout.flush()
            streamed = True
        elif isinstance(event, Failed):
            print(f"\nassistant: error: {event.message}" if streamed else f"assistant: error: {event.message}",
                  file=sys.stderr)
            return event.exit_code
        elif isinstance(event, Finished):
            finished()
            print("" if streamed else event.text)
            print(f"[{event.route} · {event.timings.total_ms / 1000:.1f} s]", file=sys.stderr)
            return 0
    raise AssistantError("the turn ended without an answer")


def approve_at_terminal(code: str) -> bool:
    print(f"\n--- code to run ---\n{code}\n-------------------", file=sys.stderr)
    return input("Run it? [y/N] ").strip().lower() in ("y", "yes")


def _warn(message: str) -> None:
    print(f"assistant: warning: {message}", file=sys.stderr)


def get_ready_in_background(bot: "Assistant",
                            request: str | None) -> tuple[list[threading.Thread], list[BaseException]]:
    """Load the model while memory opens (index, embedder) and the router fits for `request`,
    each in its own started thread: the turn waits for both (and reports a failed load itself).
    What they raise is kept in the list returned beside them, for `ready_warning`."""
    failures: list[BaseException] = []

    def kept(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # handed to whoever reports it (a thread's own would be lost)
                failures.append(exc)
        return run

    threads = [threading.Thread(target=kept(bot.load_model), name="load-model", daemon=True),
               threading.Thread(target=kept(lambda: bot.warm(request)), name="warm-turn", daemon=True)]
    for thread in threads:
        thread.start()
    return threads, failures


def ready_warning(exc: BaseException) -> str:
    """What getting ready met, said after a turn that succeeded (it did that work again itself):
    worth a warning, not an error."""
    return f"getting ready in the background failed ({describe_failure(exc)}); the turn did it again"


def report_background(failures: list[BaseException]) -> None:
    for exc in failures:
        _warn(ready_warning(exc))


def describe_failure(exc: BaseException) -> str:
    known = errors.from_layer(exc)
    return str(known) if known is not None else f"internal error: {type(exc).__name__}: {exc}"
