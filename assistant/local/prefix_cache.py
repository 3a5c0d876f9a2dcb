"""The last prompt's KV cache, kept so the next prompt is read only from where it differs.

Every turn's prompt starts the same way: the chain's system prompt and, once memories are
recalled, the rule that they are data (~70 tokens for the chat chain), and a thread's follow-ups
often share more. Reading a token of prompt costs ~1 ms on this machine, so the cache of the last
generation is kept: its keys and values for the tokens a new prompt has in common with it stay,
the rest is overwritten.

One generation at a time uses it; a generation that starts while another holds it gets a fresh
session of its own, so concurrent streams never share a cache. Only sessions that can rewind
(`assistant.local.decoding`'s own) are kept; the saving changes the arithmetic of the shared prefix
only as feeding a prompt in parts does (within 1e-4, see the tests).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

MIN_CAPACITY = 2048  # tokens: a full context budget and a long reply; ~94 MB of keys and values for the bundled model


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class _Tracked:
    """The kept session, recording what it holds as it is fed."""

    def __init__(self, session: Any, ids: list[int]) -> None:
        self._session, self._ids = session, ids

    def feed(self, ids: list[int]) -> Any:
        logits = self._session.feed(ids)  # a failure leaves the session's length where it was
        self._ids.extend(ids)
        return logits


class PrefixCache:
    def __init__(self, runner: Any, min_capacity: int = MIN_CAPACITY) -> None:
        self._runner = runner
        self._min_capacity = min_capacity
        self._lock = threading.Lock()
        self._session: Any = None
        self._ids: list[int] = []  # the tokens whose keys and values the session holds
        self.reused = 0  # tokens the last generation did not have to read again

    @contextlib.contextmanager
    def session(self, prompt: list[int], capacity: int) -> Iterator[tuple[Any, int]]:
        """A session for `prompt` and how many of its first tokens it already holds (feed the rest)."""
        if not self._lock.acquire(blocking=False):  # another generation is using the kept one
            yield self._runner.session(capacity), 0
            return
        try:
            if self._session is None or self._session.capacity < capacity:
                self._session = self._runner.session(max(capacity, self._min_capacity))
                self._ids = []
            done = min(common_prefix(self._ids, prompt), len(prompt) - 1)  # feed ≥ 1 token: its logits
            self._session.rewind(done)
            del self._ids[done:]
            self.reused = done
            yield _Tracked(self._session, self._ids), done
        finally:
            self._lock.release()
