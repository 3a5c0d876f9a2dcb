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
import socket
from typing import Any

MAX_LINE = 64 * 1024 * 1024  # a Recalled event of 64 memories or a long tool result fits many times


class WireClosed(Exception):
    """The other side went away (or sent what is not one JSON object a line)."""


class Wire:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader = sock.makefile("rb")

    def send(self, **message: Any) -> None:
        data = json.dumps(message, ensure_ascii=False, default=str).encode("utf-8") + b"\n"
        try:
            self._sock.sendall(data)
        except OSError as exc:  # BrokenPipe, ConnectionReset: the other side is gone
            raise WireClosed(str(exc)) from exc

    def receive(self) -> dict[str, Any]:
        try:
            line = self._reader.readline(MAX_LINE)
        except OSError as exc:
            raise WireClosed(str(exc)) from exc
        if not line.endswith(b"\n"):  # closed (empty), cut off, or longer than any message
            raise WireClosed("connection closed")
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise WireClosed(f"not a JSON line: {exc}") from exc
        if not isinstance(message, dict):
            raise WireClosed("not a JSON object")
        return message

    def close(self) -> None:
        for part in (self._reader, self._sock):
            try:
                part.close()
            except OSError:  # already gone: nothing to release
                pass
