"""`ask`'s side of the resident agent: reach it (starting it when there is none), send one turn,
hand back the turn's events.

Starting is serialised by a file lock, so two `ask`s at once start one agent, not two. A socket
left by an agent that was killed is removed before a new agent binds its path. The agent binds
its socket before its heavy imports, so `ask` is connected within a fraction of a second and
shows the agent's progress while it loads.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from assistant.errors import ResidentAgentLost
from assistant.events import Event, event_from_record
from assistant.resident.place import Place, anchored, place_for, runtime_dir
from assistant.resident.wire import Wire, WireClosed

if TYPE_CHECKING:
    from assistant.settings import Settings

START_LOCK_TIMEOUT_S = 120.0  # another `ask` is starting the agent: wait for it this long
BIND_TIMEOUT_S = 30.0  # a started agent binds its socket within this (before its heavy imports)

Progress = Callable[[str, "float | None"], None]


class ResidentUnavailable(Exception):
    """No resident agent could be reached or started; `ask` answers in its own process instead."""


class Connection:
    def __init__(self, wire: Wire, place: Place | None) -> None:
        self._wire, self.place = wire, place

    def turn(
        self, text: str, session: str, *, approval: str, approver: Callable[[str], bool] | None,
        cwd: str, progress: Progress, warn: Callable[[str], None],
    ) -> Iterator[Event]:
        """The turn's events as the agent sends them. ResidentUnavailable if the agent went away
        before answering at all (it was leaving as we came); ResidentAgentLost if it went away
        during the turn."""
        answered = False
        try:
            self._wire.send(turn={"text": text, "session": session, "approval": approval, "cwd": cwd})
            while True:
                message = self._wire.receive()
                answered = True
                if "progress" in message:
                    progress(str(message["progress"]), None)
                elif "event" in message:
                    yield event_from_record(message["event"])
                elif "approval" in message:
                    yes = bool(approver(str(message["approval"]))) if approver is not None else False
                    with contextlib.suppress(WireClosed):  # too late (it waited, then took it as a no): the
                        self._wire.send(approve=yes)        # turn's remaining events are still ours to read
                elif "warning" in message:
                    warn(str(message["warning"]))
                elif message.get("done"):
                    return
        except WireClosed:
            if not answered:
                raise ResidentUnavailable("the resident agent closed the connection before answering") from None
            raise ResidentAgentLost(
                f"the resident agent stopped during the turn (its log: {self.place and self.place.log}); the turn "
                "was not recorded; ask again") from None
        finally:
            self._wire.close()

    def status(self, *, stop: bool = False) -> dict:
        """What the agent is (pid, turns, idle time, data dir, model); `stop`: and ask it to leave
        once its running turns end."""
        try:
            self._wire.send(**({"stop": True} if stop else {"status": True}))
            return dict(self._wire.receive().get("status") or {})
        finally:
            self._wire.close()


def running_agents(*, stop: bool = False, environ: Mapping[str, str] | None = None) -> list[dict]:
    """Every resident agent of this user (and its socket), each told to stop if `stop`. Sockets
    nobody answers on (their agent was killed) are left for the next `ask` that needs the path."""
    found = []
    directory = runtime_dir(os.environ if environ is None else environ)
    for path in sorted(directory.glob("ask-*.sock")):
        sock = _try_connect(path)
        if sock is None:
            continue
        try:
            found.append({**Connection(Wire(sock), place=None).status(stop=stop), "socket": str(path)})
        except WireClosed:  # it left as we asked
            continue
    return found


def connect(settings: "Settings", progress: Progress) -> Connection:
    """The resident agent for these settings, started if none is running."""
    from assistant.errors import ConfigError

    settings, environ = anchored(settings, os.environ)
    try:
        place = place_for(settings, environ)
    except (ConfigError, OSError) as exc:
        raise ResidentUnavailable(str(exc)) from None
    sock = _try_connect(place.socket)
    if sock is None:
        from filelock import FileLock, Timeout

        try:
            with FileLock(place.lock, timeout=START_LOCK_TIMEOUT_S):
                sock = _try_connect(place.socket) or _start(place, settings, environ, progress)
        except Timeout:
            raise ResidentUnavailable(f"another `ask` has been starting the resident agent for over "
                                      f"{START_LOCK_TIMEOUT_S:g} s") from None
        except OSError as exc:  # its lock, log or process could not be made (a full or read-only disk)
            raise ResidentUnavailable(f"cannot start the resident agent: {exc.strerror or exc}") from None
    return Connection(Wire(sock), place)


def _try_connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:  # no socket, or one nobody listens on (its agent was killed)
        sock.close()
        return None
    return sock


def _start(place: Place, settings: "Settings", environ: dict[str, str], progress: Progress) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        place.socket.unlink()  # left by an agent that was killed: nobody listens on it (we hold the lock)
    progress(f"starting the resident agent (kept {settings.keep_alive:g} s after the last ask; keep_alive = 0 "
             "turns it off)", None)
    # `--flag=value`: a user or path that starts with "-" stays a value
    argv = [sys.executable, "-P", "-m", "assistant.resident.server", f"--socket={place.socket}",
            f"--keep-alive={settings.keep_alive!r}", f"--data-dir={settings.data_dir}",
            f"--model={settings.model}", f"--user={settings.user}"]
    if settings.memory_url:
        argv.append(f"--memory-url={settings.memory_url}")
    with open(place.log, "wb") as log:
        # Its own session: a Ctrl-C at this terminal stops this `ask`, not the agent other asks share.
        # cwd "/": an agent must not keep a directory busy for minutes (MCP servers named with
        # relative paths are the exception: their agent's key holds that directory).
        agent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 cwd=environ.get("ASSISTANT_RESIDENT_CWD", "/"), env=environ,
                                 start_new_session=True, close_fds=True)
    deadline = time.monotonic() + BIND_TIMEOUT_S
    while time.monotonic() < deadline:
        sock = _try_connect(place.socket)
        if sock is not None:
            return sock
        if agent.poll() is not None:
            raise ResidentUnavailable(f"the resident agent exited as it started: {log_tail(place.log)}")
        time.sleep(0.02)  # it binds before its heavy imports: a few polls
    agent.kill()
    raise ResidentUnavailable(f"the resident agent did not listen within {BIND_TIMEOUT_S:g} s (log: {place.log})")


def exited(pid: int) -> bool:
    """Whether the process `pid` (an agent) has exited: gone, or a zombie that the `ask` which
    started it, since ended, never collected (from /proc where there is one, else a signal 0)."""
    if os.path.exists("/proc/self/stat"):
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True
    try:
        os.kill(pid, 0)
    except OSError:  # no such process, or one of another user's that took the number
        return True
    return False


def log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return f"no log at {path}"
    return " | ".join(text[-lines:]) or f"nothing in its log, {path}"


def cwd() -> str:
    """Where relative paths in the request are read from: this `ask`'s directory, not the agent's."""
    try:
        return os.getcwd()
    except OSError:  # deleted under us: the agent then looks in the workspace only
        return "/"
