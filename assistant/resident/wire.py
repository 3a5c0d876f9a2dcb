"""The conversation between `ask` and its resident agent: one JSON object a line, each way.

    ask → agent   {"turn": {"text", "session", "approval": "auto"|"ask"|"none", "cwd"}}
                  {"status": true} | {"stop": true}      `assistant agents [--stop]`; stop: after running turns
    agent → ask   {"progress": "loading the model"}      while the agent gets ready
                  {"event": {...}}                       each event of the turn (events.event_record)
                  {"approval": "<code>"}                 code to run: ask answers {"approve": true|false}
                  {"warning": "..."}                     getting ready failed, the turn did it again
                  {"done": true}                         the turn is over (and in memory)
                  {"status": {"pid", "turns", "ready", "idle_s", "keep_alive_s", "stopping", "data_dir", "model", "user"}}

A connection carries one request. Closing it mid-turn stops the turn, which is then not recorded.
"""

from __future__ import annotations

import json
import select
import socket
from typing import Any

MAX_LINE = 64 * 1024 * 1024  # a Recalled event of 64 memories or a long tool result fits many times


class WireClosed(Exception):
    """The other side went away (or sent what is not one JSON object a line)."""


class Wire:
    """One connection's lines. Its own buffer (not a file object over the socket), so a timed-out
    read leaves the connection usable and `readable` can wait for a line without reading it."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def send(self, **message: Any) -> None:
        data = json.dumps(message, ensure_ascii=False, default=str).encode("utf-8") + b"\n"
        try:
            self._sock.sendall(data)
        except OSError as exc:  # BrokenPipe, ConnectionReset, a timeout: the other side is gone
            raise WireClosed(str(exc)) from exc

    def readable(self, timeout: float) -> bool:
        """Whether a message (or the end of the connection) can be received now, waiting up to `timeout`."""
        if b"\n" in self._buffer:
            return True
        ready, _, _ = select.select([self._sock], [], [], timeout)
        return bool(ready)

    def receive(self) -> dict[str, Any]:
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > MAX_LINE:
                raise WireClosed("a line longer than any message")
            try:
                chunk = self._sock.recv(1 << 16)
            except OSError as exc:
                raise WireClosed(str(exc)) from exc
            if not chunk:
                raise WireClosed("connection closed")
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[:end + 1]
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise WireClosed(f"not a JSON line: {exc}") from exc
        if not isinstance(message, dict):
            raise WireClosed("not a JSON object")
        return message

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:  # already gone: nothing to release
            pass
