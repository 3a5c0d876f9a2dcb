"""Running turns for many clients: admission, order, the model's slots, cancellation.

A turn is admitted only while fewer than `parallel + queue` turns are in flight; past that the
client gets 503 with Retry-After at once instead of joining an unbounded pile. An admitted turn
then waits (in asyncio, so a client that gives up just leaves) for the turn of its session
admitted before it — turns of one thread run one at a time, in arrival order — and for one of
the model's `parallel` slots (1 for a local model: it generates one reply at a time).

The turn itself is `Assistant.stream` in a thread of its own, its events handed to the event
loop. Cancelling (the client disconnected) closes the generator at its next event: the model's
token stream is closed with it and the turn never reaches its save, so it is recorded not at
all rather than half. The slot and the session lock are held until the thread has stopped.
A turn's Finished is passed on only after its memories are written (`Assistant.flush`): a reply
the client received is a turn that is in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, AsyncIterator, Callable

import anyio

from assistant.events import ApprovalNeeded, Event, Failed, Finished
from assistant.serve.http_errors import http_error

if TYPE_CHECKING:
    from assistant.agent import Assistant

_END = object()


class Gate:
    """Admission, each session's order and the model's generation slots, for one server process.

    Order is fixed at admission (synchronous, in arrival order): each turn of a session waits
    for the one admitted before it, whatever happens to either on the way."""

    def __init__(self, parallel: int, queue: int, retry_after_s: int) -> None:
        self.parallel, self.capacity, self.retry_after_s = parallel, parallel + queue, retry_after_s
        self.in_flight = 0
        self._slots: asyncio.Semaphore | None = None
        self._tails: dict[tuple[str, str], asyncio.Future] = {}  # the last admitted turn of each session

    def admit(self, namespace: str, session: str) -> "Ticket":
        """A place for one turn, or 503 with Retry-After when `parallel + queue` are in flight."""
        if self.in_flight >= self.capacity:
            raise http_error(503, f"the server is busy ({self.in_flight} turns in flight); retry shortly",
                             headers={"Retry-After": str(self.retry_after_s)})
        key = (namespace, session)
        done = asyncio.get_running_loop().create_future()
        previous = self._tails.get(key)
        self._tails[key] = done
        done.add_done_callback(lambda f: self._tails.pop(key) if self._tails.get(key) is f else None)
        self.in_flight += 1
        return Ticket(self, previous, done)

    def _model_slots(self) -> asyncio.Semaphore:
        if self._slots is None:  # made inside the server's event loop
            self._slots = asyncio.Semaphore(self.parallel)
        return self._slots


class Ticket:
    """One admitted turn. `hold()` waits for the session's previous turn and a model slot;
    `release()` (idempotent) gives its place back — also when a streamed response never started."""

    def __init__(self, gate: Gate, previous: asyncio.Future | None, done: asyncio.Future) -> None:
        self._gate, self._previous, self._done, self._released = gate, previous, done, False

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        try:
            if self._previous is not None:
                await asyncio.shield(self._previous)
            async with self._gate._model_slots():
                yield
        finally:
            self.release()

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._gate.in_flight -= 1
        previous, done = self._previous, self._done
        if previous is None or previous.done():
            done.done() or done.set_result(None)
        else:  # given up while waiting: the next turn still waits for the one before this
            previous.add_done_callback(lambda _: done.done() or done.set_result(None))


@dataclass
class Pending:
    code: str
    answered: threading.Event = field(default_factory=threading.Event)
    answer: bool = False


class Approvals:
    """Code waiting for a yes/no over HTTP, one per (namespace, session): a thread's turns are serial."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._pending: dict[tuple[str, str], Pending] = {}
        self._lock = threading.Lock()

    def asker(self, namespace: str, session: str, cancelled: threading.Event) -> Callable[[str], bool]:
        """The `approve` callback for one turn: waits for `answer()` (no answer in time, or the
        client gone, is a no)."""

        def approve(code: str) -> bool:
            pending = Pending(code)
            with self._lock:
                self._pending[(namespace, session)] = pending
            try:
                waited = 0.0
                while not pending.answered.wait(0.2):
                    waited += 0.2
                    if cancelled.is_set() or waited >= self.timeout_s:
                        return False
                return pending.answer
            finally:
                with self._lock:
                    self._pending.pop((namespace, session), None)

        return approve

    def pending(self, namespace: str, session: str) -> str | None:
        with self._lock:
            found = self._pending.get((namespace, session))
        return found.code if found else None

    def answer(self, namespace: str, session: str, yes: bool) -> bool:
        with self._lock:
            found = self._pending.get((namespace, session))
        if found is None:
            return False
        found.answer = yes
        found.answered.set()
        return True


async def run_turn(
    bot: "Assistant", request: str, session: str, approve: "Callable[[threading.Event], Callable[[str], bool] | None]",
) -> AsyncIterator[Event]:
    """`bot.stream(...)` in a thread, as an async iterator; closing it (or cancelling the task
    consuming it) stops the turn and waits for its thread."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    cancelled = threading.Event()
    stopped = loop.create_future()

    def put(item: object) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        from assistant.agent import durable

        events = bot.stream(request, session, approve=approve(cancelled))
        try:
            for event in events:
                if cancelled.is_set():
                    break
                if isinstance(event, Finished):
                    event = durable(bot, event)
                put(event)
                if isinstance(event, ApprovalNeeded) and cancelled.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - a bug in the turn ends it; the edge reports it
            put(Failed(message=f"internal error: {type(exc).__name__}", error="AssistantError"))
        finally:
            events.close()  # the model's stream and the turn stop here when cancelled
            put(_END)
            loop.call_soon_threadsafe(lambda: stopped.done() or stopped.set_result(None))

    threading.Thread(target=work, name=f"turn-{session}", daemon=True).start()
    try:
        while (item := await queue.get()) is not _END:
            yield item  # type: ignore[misc]
    finally:
        cancelled.set()
        with anyio.CancelScope(shield=True):
            await stopped
