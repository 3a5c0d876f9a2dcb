"""The worker side without a UI: terminal-safe text, token batching, cancellation closing the stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assistant.errors import ModelServerUnreachable
from assistant.events import Failed, Finished, Routed, Timings, Token
from assistant.tui.backend import Backend, drive_turn
from assistant.tui.safe import clean, one_line


def test_clean_makes_control_characters_visible_and_keeps_text():
    assert clean("a\x1b[31mb\x07c") == "a␛[31mb␇c"
    assert clean("line\r\nnext\rx\ttab") == "line\nnextx\ttab"
    assert clean("\x9b2J \u202eevil") == "\\x9b2J \\u202eevil"
    assert clean("\x00\x7f") == "␀␡"
    assert clean("naïve — ünïcode ✓ [b]x[/b]") == "naïve — ünïcode ✓ [b]x[/b]"
    assert one_line("a\n\n b\x1b", 80) == "a b␛"
    assert one_line("x" * 10, 5) == "xxxx…"


class FakeBot:
    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.closed = False
        self.pulled = 0

    def stream(self, request: str, session: str, approve=None) -> Iterator[Any]:
        try:
            for event in self.events:
                self.pulled += 1
                yield event
        finally:
            self.closed = True


def backend_for(bot: Any) -> Backend:
    return Backend(settings=None, factory=lambda settings, progress: bot, progress=lambda *a: None)  # type: ignore[arg-type]


def test_tokens_are_batched_and_every_other_event_passes_in_order():
    done = Finished("abc", "chat", Timings())
    bot = FakeBot([Routed("chat", 1.0, "prefix"), Token("a"), Token("b"), Token("c"), done])
    seen: list[Any] = []
    drive_turn(backend_for(bot), "hi", "s", emit=seen.append, cancelled=lambda: False, approve=None, flush_s=60)
    assert seen == [Routed("chat", 1.0, "prefix"), Token("a"), Token("bc"), done]  # first token at once
    assert bot.closed


def test_cancelling_stops_pulling_and_closes_the_stream():
    bot = FakeBot([Token(str(i)) for i in range(100)])
    seen: list[Any] = []
    drive_turn(backend_for(bot), "hi", "s", emit=seen.append, cancelled=lambda: len(seen) >= 3, approve=None,
               flush_s=0)
    assert len(seen) == 3 and bot.pulled == 4 and bot.closed


def test_failures_become_failed_events():
    def broken(settings, progress):
        raise ModelServerUnreachable("no server at http://127.0.0.1:9/v1")

    seen: list[Any] = []
    drive_turn(Backend(None, broken, lambda *a: None), "hi", "s", emit=seen.append,  # type: ignore[arg-type]
               cancelled=lambda: False, approve=None)
    assert seen == [Failed("no server at http://127.0.0.1:9/v1", "ModelServerUnreachable", exit_code=4)]

    class Buggy(FakeBot):
        def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            yield Token("partial")
            raise KeyError("oops")

    seen.clear()
    drive_turn(backend_for(Buggy([])), "hi", "s", emit=seen.append, cancelled=lambda: False, approve=None)
    assert seen[0] == Token("partial")
    assert seen[1].error == "KeyError" and "internal error" in seen[1].message and seen[1].exit_code == 70
