"""The resident agent: one `Assistant` kept loaded for the `ask`s that share its settings.

It binds its socket first (light imports only), then loads the model while memory opens and the
router fits, as `ask` does in its own process, telling connected `ask`s how far it got. Turns run
one at a time (one model); each is `Assistant.stream` with the asking process's directory and
approval, and a turn's Finished is sent only once its memories are written, so what `ask` printed
is in memory. An `ask` that goes away mid-turn stops the turn (not recorded).

It leaves after `keep_alive` seconds without a turn, when its socket is removed or replaced, when
the data dir is deleted, or on SIGTERM: it unlinks its socket first (a newcomer then starts a new
agent), answers the connections already queued, lets running turns end, then closes the store
(pending writes, session summaries).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from assistant.errors import EXIT_BUG, AssistantError, InputError
from assistant.events import Failed, Finished, event_record
from assistant.resident.wire import Wire, WireClosed

if TYPE_CHECKING:
    from assistant.agent import Assistant

CHECK_EVERY_S = 0.5
SILENT_CLIENT_S = 300.0  # a send or a request line an `ask` does not take within this ends its connection
WARM_AFTER_IDLE_S = 1.0  # the router is fitted after the first turn once no ask came for this long
APPROVAL_WAIT_S = 600.0  # code waiting for a yes at a terminal nobody answers: then it is a no
FIRST_REQUEST_WAIT_S = 1.0  # the starting `ask` connects within milliseconds of the bind


class ResidentAgent:
    def __init__(self, listener: socket.socket, path: Path, keep_alive: float, overrides: dict[str, Any]) -> None:
        self._listener, self._path, self._keep_alive, self._overrides = listener, path, keep_alive, overrides
        self._inode = os.stat(path).st_ino
        self._bot: "Assistant | None" = None
        self._broken: AssistantError | None = None  # the agent could not be built: each turn says why
        self._ready = threading.Event()
        self._stages: list[str] = []
        self._warnings: list[str] = []  # getting ready failed (the first turn does it again): told once
        self._changed = threading.Condition()
        self._one_turn = threading.Lock()
        self._active, self._turns, self._last = 0, 0, time.monotonic()
        self._begun = False
        self._fully_warm = False  # the router too (a first request naming its chain skips it)
        self._warming: threading.Thread | None = None
        self.stopping = threading.Event()
        self._leaving = threading.Event()
        self.troubled = False  # something went to its log (a bug, a failed close)

    # -- the process ------------------------------------------------------------------------------
    def run(self) -> None:
        self._listener.settimeout(CHECK_EVERY_S)
        born = time.monotonic()
        while not self.stopping.is_set() and not self._should_leave():
            if time.monotonic() - born > FIRST_REQUEST_WAIT_S:
                self._begin(None)  # nobody asked yet: get ready for whatever comes
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            self._serve_in_thread(conn)
        self._leave()

    def _begin(self, request: str | None) -> None:
        """Get ready, once. The `ask` that started the agent sends its request at once, so the
        warm-up knows it: a request naming its chain (`/chat …`) needs no router fitted first,
        as in `ask`'s own process; the router is fitted after that turn instead."""
        with self._changed:
            if self._begun:
                return
            self._begun = True
        threading.Thread(target=self._get_ready, args=(request,), name="get-ready", daemon=True).start()

    def _should_leave(self) -> bool:
        try:
            if os.stat(self._path).st_ino != self._inode:
                return True  # another agent has this path now
        except OSError:
            return True  # removed: nobody can reach us
        with self._changed:
            idle = self._active == 0 and time.monotonic() - self._last > self._keep_alive
        if self._bot is not None and not self._bot.settings.data_dir.exists():
            return True
        return idle and self._ready.is_set()

    def _leave(self) -> None:
        self._leaving.set()  # the router's warm-up, if still waiting, need not happen
        try:
            if os.stat(self._path).st_ino == self._inode:
                os.unlink(self._path)  # first: from now on a newcomer starts a new agent
        except OSError:
            pass  # already gone
        self._listener.setblocking(False)
        while True:  # connections that arrived before the unlink are answered, not dropped
            try:
                conn, _ = self._listener.accept()
            except OSError:
                break
            conn.setblocking(True)
            self._serve_in_thread(conn)
        self._listener.close()
        with self._changed:
            self._changed.wait_for(lambda: self._active == 0)
        if self._warming is not None:
            self._warming.join()  # it uses the store closed next
        if self._bot is not None:
            try:
                self._bot.close()  # pending writes, then the sessions' summaries, then the store
            except AssistantError as exc:
                self.troubled = True
                print(f"resident agent: closing the store failed: {exc}", file=sys.stderr, flush=True)

    # -- getting ready ----------------------------------------------------------------------------
    def _get_ready(self, request: str | None) -> None:
        from assistant.collector import paused_until_ready

        ready = paused_until_ready()  # until the agent is loaded: see assistant.collector
        try:
            from assistant.agent import Assistant
            from assistant.ask_command import get_ready_in_background, ready_warning
            from assistant.settings import load_settings

            # Each turn says how its code is approved (auto_run is the asking `ask`'s flag).
            settings = replace(load_settings(**self._overrides), auto_run=False)
            bot = Assistant(settings=settings, progress=self._progress)
            threads, failures = get_ready_in_background(bot, request)
            for thread in threads:
                thread.join()
            self._warnings = [ready_warning(exc) for exc in failures]
            self._fully_warm = request is None
            self._bot = bot
        except AssistantError as exc:
            self._broken = exc
        except Exception as exc:  # a bug: every turn reports it in one line, as `ask` would
            self._broken = AssistantError(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            ready()
            with self._changed:
                self._ready.set()
                self._last = time.monotonic()
                self._changed.notify_all()

    def _progress(self, stage: str, fraction: float | None) -> None:
        with self._changed:
            if stage not in self._stages:
                self._stages.append(stage)
                self._changed.notify_all()

    # -- one connection ---------------------------------------------------------------------------
    def _serve_in_thread(self, conn: socket.socket) -> None:
        with self._changed:
            self._active += 1
        threading.Thread(target=self._serve, args=(conn,), name="ask", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(SILENT_CLIENT_S)  # an `ask` stopped (Ctrl-Z) cannot hold the agent forever
        wire = Wire(conn)
        turned = False
        try:
            request = wire.receive()
            if request.get("status") or request.get("stop"):
                if request.get("stop"):
                    self.stopping.set()  # after the turns running now
                wire.send(status=self._status())
                return
            turned = True
            turn = request.get("turn")
            self._begin(turn.get("text") if isinstance(turn, dict) and isinstance(turn.get("text"), str) else None)
            self._await_ready(wire)
            if not self._one_turn.acquire(blocking=False):
                wire.send(progress="waiting for another ask's turn to end (the model answers one at a time)")
                self._one_turn.acquire()
            try:
                self._turn(wire, turn)
            finally:
                self._one_turn.release()
                self._warm_the_rest()
        except WireClosed:
            pass  # the `ask` went away: its turn (if any) was stopped and not recorded
        except Exception as exc:  # a bug: one line to the `ask` (exit 70, as in its own process), the traceback here
            self.troubled = True
            traceback.print_exc()
            with contextlib.suppress(WireClosed):
                self._send_failed(wire, AssistantError(f"internal error: {type(exc).__name__}: {exc} (the resident "
                                                       "agent's log has the traceback)"), exit_code=EXIT_BUG)
        finally:
            wire.close()
            with self._changed:
                self._active -= 1
                if turned:  # `assistant agents` looking does not keep an agent alive
                    self._last = time.monotonic()
                self._changed.notify_all()

    def _status(self) -> dict[str, Any]:
        with self._changed:
            idle = time.monotonic() - self._last if self._active <= 1 else 0.0
        settings = self._bot.settings if self._bot is not None else None
        return {"pid": os.getpid(), "turns": self._turns, "ready": self._ready.is_set(), "idle_s": round(idle, 1),
                "keep_alive_s": self._keep_alive, "stopping": self.stopping.is_set(),
                "data_dir": str(settings.data_dir) if settings else None, "model": settings.model if settings else None,
                "user": settings.user if settings else None}

    def _await_ready(self, wire: Wire) -> None:
        """Tell an `ask` that came while the agent loads how far it got (one that comes later
        hears nothing: the model was loaded before it asked)."""
        if self._ready.is_set():
            return
        told = 0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._ready.is_set() or len(self._stages) > told, timeout=1.0)
                stages, ready = list(self._stages), self._ready.is_set()
            for stage in stages[told:]:
                wire.send(progress=stage)
            told = len(stages)
            if ready:
                return

    def _turn(self, wire: Wire, turn: Any) -> None:
        if self._broken is not None or self._bot is None:
            error = self._broken or AssistantError("the resident agent is not ready")
            self.stopping.set()  # a broken agent answers this once; the next `ask` starts afresh
            self._send_failed(wire, error)
            return
        if not isinstance(turn, dict) or not isinstance(turn.get("text"), str) or not isinstance(turn.get("session"), str):
            self._send_failed(wire, InputError("a turn needs text and a session name"))
            return
        from assistant.agent import durable

        bot = self._bot
        warnings, self._warnings = self._warnings, []  # the first turn's: a failed one reports its own error
        approval = turn.get("approval")
        events = bot.stream(turn["text"], turn["session"], approve=self._approver(approval, wire),
                            cwd=turn.get("cwd") or None, auto_run=approval == "auto")
        try:
            for event in events:
                if isinstance(event, Finished):
                    event = durable(bot, event)  # what `ask` prints is in memory
                    for warning in warnings:  # before Finished: `ask` stops reading there
                        wire.send(warning=warning)
                wire.send(event=event_record(event))
        finally:
            events.close()  # an `ask` gone mid-turn: the turn stops here, unrecorded
        self._turns += 1
        with contextlib.suppress(WireClosed):  # it may have gone once it had Finished
            wire.send(done=True)

    def _approver(self, approval: Any, wire: Wire) -> Callable[[str], bool] | None:
        """At a terminal the person who asked answers; without one nobody can, and the chain says
        how to run the code instead (`--auto-run` needs no approver: the turn runs it). No answer
        within APPROVAL_WAIT_S, the `ask` gone, or the agent stopping is a no."""
        if approval != "ask":
            return None

        def ask(code: str) -> bool:
            try:
                wire.send(approval=code)
                deadline = time.monotonic() + APPROVAL_WAIT_S
                while not wire.readable(CHECK_EVERY_S):
                    if self.stopping.is_set() or time.monotonic() > deadline:
                        return False
                return bool(wire.receive().get("approve"))
            except WireClosed:
                return False  # nobody left to say yes

        return ask

    def _warm_the_rest(self) -> None:
        """After a first turn that skipped the router: fit it while the person reads (once the
        agent has been idle a moment, so asks sent back to back do not share the CPUs with it)."""
        if self._fully_warm or self._bot is None:
            return
        self._fully_warm = True
        bot = self._bot

        def idle() -> bool:
            if self._leaving.is_set() or self.stopping.is_set():
                return True
            return self._active == 0 and time.monotonic() - self._last >= WARM_AFTER_IDLE_S

        def warm() -> None:
            with self._changed:
                while not self._changed.wait_for(idle, timeout=WARM_AFTER_IDLE_S):
                    pass
            if self._leaving.is_set() or self.stopping.is_set():
                return
            try:
                bot.warm()
            except Exception as exc:  # the next turn that needs the router fits it, and reports a failure
                from assistant.ask_command import describe_failure

                self.troubled = True
                print(f"resident agent: warming the router failed ({describe_failure(exc)})", file=sys.stderr, flush=True)

        self._warming = threading.Thread(target=warm, name="warm-rest", daemon=True)
        self._warming.start()

    @staticmethod
    def _send_failed(wire: Wire, error: AssistantError, exit_code: int | None = None) -> None:
        code = error.exit_code if exit_code is None else exit_code
        wire.send(event=event_record(Failed(message=str(error), error=type(error).__name__, exit_code=code)))
        with contextlib.suppress(WireClosed):  # it may have gone once it had Failed
            wire.send(done=True)


def _listen(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o177)  # the socket itself: this user only (its directory is 0700 as well)
    try:
        sock.bind(str(path))
    finally:
        os.umask(umask)
    sock.listen(64)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.resident.server")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--keep-alive", required=True, type=float)
    for flag in ("--data-dir", "--model", "--user", "--memory-url"):
        parser.add_argument(flag)
    args = parser.parse_args(argv)
    try:
        listener = _listen(args.socket)
    except OSError as exc:
        print(f"resident agent: cannot listen on {args.socket}: {exc.strerror}", file=sys.stderr, flush=True)
        return 1
    overrides = {"data_dir": args.data_dir, "model": args.model, "user": args.user, "memory_url": args.memory_url}
    agent = ResidentAgent(listener, args.socket, args.keep_alive, overrides)
    signal.signal(signal.SIGTERM, lambda *_: agent.stopping.set())
    agent.run()
    if not agent.troubled:  # a clean leave: its log has nothing to tell (one that crashed keeps it)
        with contextlib.suppress(OSError):
            args.socket.with_suffix(".log").unlink()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the store is closed; skip tearing down torch and Chroma (1-2 s)
