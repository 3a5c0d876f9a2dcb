"""The watchdog of a sandboxed run: pumps its pipes and enforces time, output and process caps.

stdout and stderr are read incrementally into bounded buffers (past the cap reading stops and the
run is ended, so a flood never sits in memory); stdin is fed without blocking; the process tree is
counted through /proc every 0.1 s. The run ends when the child exits or, under the kernel
sandbox, when the bootstrap reports on the status pipe that the code ended. Ending is the
caller's `finish` (freeze, copy the files out, kill), called exactly once.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Callable
from typing import IO, Literal

from tools._proctree import members

__all__ = ["KilledReason", "Watch"]

KilledReason = Literal["timeout", "memory", "cpu", "output", "processes"]

_POLL_S = 0.05
_CHUNK = 65536


class Watch:
    """Pumps the child's pipes with bounded buffers and enforces time, output and process caps."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout: float, max_output: int,
                 max_processes: int, stdin: str | None, known: dict[int, int], status_fd: int,
                 finish: Callable[[], None], overhead: int = 0,
                 tree: Callable[[int, dict[int, int]], dict[int, int]] = members) -> None:
        self.proc, self.timeout, self.max_output, self.max_processes = proc, timeout, max_output, max_processes
        self.finish, self.overhead = finish, overhead  # overhead: the sandbox's own processes
        self.tree = tree  # how the process tree is found (tools._proctree)
        self.status = b""
        self.finished = False
        self.out = {"stdout": bytearray(), "stderr": bytearray()}
        self.total = 0
        self.truncated = False
        self.reason: KilledReason | None = None
        self.known = known  # every process seen in the tree: pid -> start time
        self.selector = selectors.DefaultSelector()
        for name in ("stdout", "stderr"):
            self.selector.register(getattr(proc, name), selectors.EVENT_READ, name)
        self.selector.register(status_fd, selectors.EVENT_READ, "status")
        self.pending_stdin = memoryview(stdin.encode("utf-8")) if stdin is not None else None
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            self.selector.register(proc.stdin, selectors.EVENT_WRITE, "stdin")

    def run(self) -> None:
        try:
            self._loop()
        finally:
            self.selector.close()

    def _loop(self) -> None:
        deadline = time.monotonic() + self.timeout
        next_count = 0.0
        while True:
            now = time.monotonic()
            if now >= deadline:
                return self._stop("timeout")
            if now >= next_count:
                next_count = now + 0.1
                found = self.tree(self.proc.pid, self.known)
                self.known.update(found)
                if len(found) > self.max_processes + self.overhead:
                    return self._stop("processes")
            for key, _ in self.selector.select(min(_POLL_S, max(0.0, deadline - now))):
                if key.data == "stdin":
                    self._feed(key.fileobj)
                elif key.data == "status":
                    self._read_status(key.fileobj)
                elif not self._pump(key.fileobj, key.data):
                    return self._stop("output")
            if self.proc.poll() is not None or self.code_ended:
                # The code is done: end what it left behind so the pipes reach EOF, then
                # drain what is already buffered (bounded by the same cap).
                self._finish()
                self._drain(time.monotonic() + 1.0)
                return None

    @property
    def code_ended(self) -> bool:
        return b"exit " in self.status

    def exit_code(self) -> int | None:
        """The code's exit code as the bootstrap reported it (kernel mode), else None."""
        for line in self.status.decode("ascii", "replace").splitlines():
            if line.startswith("exit ") and line[5:].lstrip("-").isdigit():
                return int(line[5:])
        return None

    def _read_status(self, fd: int) -> None:
        data = os.read(fd, 4096)
        if not data:
            self.selector.unregister(fd)
        self.status = (self.status + data)[-4096:]

    def end(self) -> None:
        """Make sure the run is ended (the caller's `finish`) even if the loop raised."""
        self._finish()

    def read_rest(self, fd: int) -> bytes:
        """Whatever the status pipe still holds, without waiting for it; returns all status."""
        os.set_blocking(fd, False)
        try:
            while data := os.read(fd, 4096):
                self.status = (self.status + data)[-4096:]
        except BlockingIOError:
            pass
        return self.status

    def _finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.finish()

    def _pump(self, pipe: IO[bytes], name: str) -> bool:
        data = os.read(pipe.fileno(), _CHUNK)
        if not data:
            self.selector.unregister(pipe)
            return True
        room = self.max_output - self.total
        self.out[name] += data[:room]
        self.total += min(len(data), room)
        if len(data) > room:
            self.truncated = True
            return False
        return True

    def _feed(self, pipe: IO[bytes]) -> None:
        try:
            if self.pending_stdin:
                sent = os.write(pipe.fileno(), self.pending_stdin[:4096])
                self.pending_stdin = self.pending_stdin[sent:]
        except BlockingIOError:
            return  # the pipe filled up between select and write; try again next round
        except BrokenPipeError:
            self.pending_stdin = None  # the code stopped reading; the rest is dropped
        if not self.pending_stdin:
            self.selector.unregister(pipe)
            pipe.close()

    def _drain(self, until: float) -> None:
        while time.monotonic() < until and any(k.data in ("stdout", "stderr") for k in self.selector.get_map().values()):
            for key, _ in self.selector.select(0.05):
                if key.data == "stdin":
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()
                elif key.data == "status":
                    self._read_status(key.fileobj)
                elif not self._pump(key.fileobj, key.data):
                    return

    def _stop(self, reason: KilledReason) -> None:
        self.reason = reason
        self._finish()
        if reason != "output":
            self._drain(time.monotonic() + 0.5)  # keep what was printed up to the kill

    def text(self, name: str) -> str:
        return self.out[name].decode("utf-8", errors="replace")


