"""The Assistant: one turn is recall → route → chain → remember, as a generator of events.

`stream()` is the only loop (smolagents' shape): the TUI, the CLI and `ask()` all consume its
events. Everything heavy — the chat model, the embedder, Chroma — is built on first use, so
constructing an Assistant is instant and a UI can paint before any model loads.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable, Iterator

from assistant.chains.base import ChainResult, ChainRun
from assistant.chains.registry import ChainRegistry, default_chains
from assistant.context import ContextBuilder
from assistant.errors import AssistantError, DataDirError, MemoryFailure, from_layer
from assistant.events import (
    ApprovalNeeded, ArtifactSaved, Event, Failed, Finished, Recalled, RecalledMemory, Reply, Routed, Timings, Token, event_record,
    gather,
)
from assistant.facts import extract_facts
from assistant.inputs import validate_request
from assistant.memories import REPLY_SUFFIX, artifact_memory, by_relevance, one_version_each, related, turn_memories
from assistant.pending import PendingWrites
from assistant.sessions import Session, SessionStore, TurnRecord
from assistant.summaries import summarize, summary_due, summary_id
from assistant.budget import context_budget
from assistant.settings import Settings, default_cache_dir, load_settings
from assistant.toolbox import ToolBox
from tools.confinement import configure as configure_sandbox, summary as sandbox_summary

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.routing import Route, Router
    from memory import Memory, MemoryStore

Progress = Callable[[str, "float | None"], None]
log = logging.getLogger(__name__)

class Assistant:
    def __init__(
        self,
        data_dir: str | Path | None = None,
        model: str | None = None,
        user: str | None = None,
        *,
        auto_run: bool | None = None,
        memory_url: str | None = None,
        settings: Settings | None = None,
        chat_model: "BaseChatModel | None" = None,
        store: "MemoryStore | None" = None,
        chains: ChainRegistry | None = None,
        progress: Progress | None = None,
        tools: Iterable[Any] = (),
        sessions: SessionStore | None = None,
        router: "Router | None" = None,
    ) -> None:
        base = settings or load_settings()
        self.settings = base.with_overrides(
            data_dir=data_dir, model=model, user=user, auto_run=auto_run, memory_url=memory_url
        )
        if chat_model is None:
            from assistant.models import parse_model_spec

            parse_model_spec(self.settings.model)  # an unknown spec fails now, not after loading memory
        configure_sandbox(self.settings.sandbox, self.settings.sandbox_network)  # run_python's default here
        self.sessions = sessions or SessionStore(self.settings.data_dir, self.settings.user)
        self.chains = chains or default_chains()
        self.toolbox = ToolBox(self.settings, tools)  # tools a capable model calls itself (and MCP servers)
        self.progress = progress
        self._chat_model = chat_model
        self._store = store
        self._router: Router | None = router
        self._lock = threading.RLock()
        self._touched: set[str] = set()  # sessions this Assistant ran turns in: summarised on close
        self._checked: set[str] = set()  # sessions whose recent turns were checked against memory
        self._write_lock = threading.Lock()
        self._flush_lock = threading.RLock()  # a flush returns only once every earlier batch is written
        self._writer: ThreadPoolExecutor | None = None
        self._pending: tuple[Future, list, str | None] | None = None
        self._kept = PendingWrites(self.settings.data_dir, self.settings.user)
        self._recovered = False

    # -- lazily built parts -------------------------------------------------------------------
    @property
    def model(self) -> "BaseChatModel":
        with self._lock:
            if self._chat_model is None:
                from assistant.models import build_chat_model

                self._chat_model = build_chat_model(
                    self.settings.model,
                    max_new_tokens=self.settings.max_new_tokens,
                    temperature=self.settings.temperature,
                    dtype=self.settings.dtype,
                    connect_timeout=self.settings.connect_timeout,
                    read_timeout=self.settings.read_timeout,
                )
            return self._chat_model

    @property
    def context_tokens(self) -> int:
        """The prompt's budget for memories, artifacts and history: the config's `context_tokens`, or
        else the model's (a CPU model pays for it in time to first token: assistant/budget.py)."""
        return context_budget(self.model, self.settings.context_tokens)

    def load_model(self) -> None:
        """Build and load the chat model now (with progress) instead of on the first request."""
        model = self.model
        ensure = getattr(model, "ensure_loaded", None)
        if callable(ensure):
            ensure(progress=self.progress)

    def warm(self, request: str | None = None) -> None:
        """What a turn needs besides the model, now: memory opened with its search index and
        embedder, and the router fitted unless `request` names its route by prefix. `assistant ask`
        runs this in a thread while the model loads in another, so they overlap, not add up."""
        from memory import MemoryStoreError

        store = self._memory()  # first: opening starts loading the search index (snapshot, vectors), beside the router's fit
        if request is None or self.router.route(request).why != "prefix":
            self.router.warm()
        try:
            store.warm()
            store.embedder.embed(["warm"])
        except MemoryStoreError as exc:
            raise MemoryFailure(str(exc)) from exc

    @property
    def store(self) -> "MemoryStore":
        """The long-term memory, with every finished turn written (see `flush`)."""
        self.flush()
        return self._memory()

    def flush(self) -> None:
        """Wait until the last turn's memories are written (raises MemoryFailure if they cannot be).

        Turns are written to long-term memory in the background, after Finished: the reply is
        not held up by indexing, and the turn is already durable in the session file (a turn a
        crash kept out of memory is written again when its session is next opened)."""
        with self._flush_lock:  # turns of several sessions may finish at once (assistant serve)
            with self._write_lock:
                pending, self._pending = self._pending, None
            if pending is None:
                return
            future, batch, ticket = pending
            try:
                future.result()
            except MemoryFailure:
                self._write(batch)  # once more, in the caller's thread: its error is the caller's
                self._kept.done(ticket)

    def abandon(self, wait_s: float) -> None:
        """For a face that must end the process while a turn is stuck (it cannot `close()`):
        wait up to `wait_s` for the memory writes under way, and keep the rest — those and the
        due session summaries — on disk, where the next start stores them. Nothing is lost."""
        with self._write_lock:
            pending = self._pending
        if pending is not None:
            try:
                pending[0].result(timeout=wait_s)
            except (FutureTimeout, MemoryFailure) as exc:  # the batch stays kept on disk
                log.warning("memory writes still pending at exit (%s); they are stored at the next start",
                            type(exc).__name__)
        for name in sorted(self._touched):
            session = self.sessions.load(name)
            if summary_due(session, closing=True):
                self._kept.keep([self._summary_memory(session)])
                self.sessions.save(session)
        self._touched.clear()

    def _memory(self) -> "MemoryStore":
        with self._lock:
            if self._store is None:
                from memory import MemoryStore, MemoryStoreError

                try:
                    if self.settings.memory_url:
                        self._store = MemoryStore(url=self.settings.memory_url, namespace=self.settings.user)
                    else:
                        self._store = MemoryStore(self.settings.data_dir / "memory", namespace=self.settings.user)
                except MemoryStoreError as exc:
                    raise MemoryFailure(str(exc)) from exc
            if not self._recovered and not getattr(self._store, "read_only", False):
                self._recovered = True
                try:  # what a process that ended before its writes were stored left behind
                    self._kept.recover(self._store.add_many)
                except MemoryStoreError as exc:
                    raise MemoryFailure(str(exc)) from exc
            return self._store

    @property
    def router(self) -> "Router":
        with self._lock:
            if self._router is None:
                from assistant.routing import Router

                examples = {chain.name: list(chain.examples) for chain in self.chains}
                self._router = Router(
                    examples, cache_dir=default_cache_dir() / "routing", prefixes=self.chains.prefixes()
                )
            return self._router

    # -- the public API -------------------------------------------------------------------------
    def route(self, text: str, *, session: str | None = None) -> "Route":
        current = self.sessions.load(session).current_route if session else None
        return self.router.route(validate_request(text, self.settings.max_request_chars), current=current)

    def stream(
        self,
        request: str,
        session: str = "default",
        *,
        approve: Callable[[str], bool] | None = None,
        cwd: str | Path | None = None,
        auto_run: bool | None = None,
    ) -> Iterator[Event]:
        """One turn as events. Errors end the stream with a Failed event instead of raising;
        memory and tool errors are mapped into the assistant's tree first (`errors.from_layer`).
        For an agent answering other processes (ask's resident agent): `cwd` is where a relative
        file named in the request is looked for (after the workspace; default: this process's),
        `auto_run` this turn's own (default: the settings')."""
        try:
            yield from self._checked_turn(request, session, approve, cwd, auto_run)
        except AssistantError as exc:
            yield Failed(message=str(exc), error=type(exc).__name__, exit_code=exc.exit_code)

    async def astream(self, request: str, session: str = "default", **kwargs: Any) -> AsyncIterator[Event]:
        """`stream()` for asyncio apps: the blocking turn runs in a worker thread."""
        events = self.stream(request, session, **kwargs)
        done = object()
        while (event := await asyncio.to_thread(next, events, done)) is not done:
            yield event

    def ask(self, request: str, session: str = "default", **kwargs: Any) -> Reply:
        """One turn, gathered. Raises the AssistantError subclass on failure."""
        reply = gather(self._checked_turn(request, session, kwargs.get("approve"), kwargs.get("cwd"),
                                     kwargs.get("auto_run")))
        if not isinstance(reply, Reply):
            raise AssistantError("the turn ended without an answer")
        return reply

    def close(self) -> None:
        """Finish pending memory writes and the summaries of the sessions used, then close the store
        (and the MCP servers' sessions)."""
        self.toolbox.close()
        try:
            self.flush()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None
        if self._store is not None:
            for name in sorted(self._touched):
                session = self.sessions.load(name)
                if summary_due(session, closing=True):
                    try:
                        self._write([self._summary_memory(session)])
                    except MemoryFailure as exc:
                        # Closing goes on (the turns are stored; the summary is rebuilt from them
                        # at the next close), but not silently.
                        log.warning("could not write the summary of session %r: %s", name, exc)
                        continue
                    self.sessions.save(session)
            self._touched.clear()
            self._store.close()

    def __enter__(self) -> "Assistant":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the turn -------------------------------------------------------------------------------
    def _checked_turn(self, request: str, session_name: str, approve: Callable[[str], bool] | None,
                      cwd: str | Path | None = None, auto_run: bool | None = None) -> Iterator[Event]:
        """`_turn`, with the memory and tools layers' errors raised as AssistantErrors."""
        try:
            yield from self._turn(request, session_name, approve, cwd, auto_run)
        except Exception as exc:
            mapped = from_layer(exc)
            if mapped is None or mapped is exc:
                raise
            raise mapped from exc

    def _turn(self, request: str, session_name: str, approve: Callable[[str], bool] | None,
              cwd: str | Path | None = None, auto_run: bool | None = None) -> Iterator[Event]:
        started = time.perf_counter()
        request = validate_request(request, self.settings.max_request_chars)
        session = self.sessions.load(session_name)
        self._recover_turns(session)

        t0 = time.perf_counter()
        route = self.router.route(request, current=session.current_route)
        route_ms = (time.perf_counter() - t0) * 1000
        kept: list[dict[str, Any]] = []  # the turn's events but tokens and Finished, kept with its record

        def keep(event: Event) -> Event:
            kept.append(event_record(event))
            return event

        yield keep(Routed(route=route.name, score=route.score, why=route.why))
        text = route.text or request

        t0 = time.perf_counter()
        memories = self._recall(text, session)
        recall_ms = (time.perf_counter() - t0) * 1000

        chain = self.chains.get(route.name)
        run = ChainRun(
            request=text, session=session, workspace=self.sessions.workspace(session.name), model=self.model,
            memories=memories, auto_run=self.settings.auto_run if auto_run is None else auto_run, approve=approve,
            cwd=Path(cwd or Path.cwd()),
        )
        builder = ContextBuilder(self.context_tokens)
        context = builder.build(
            system_prompt=chain.system_prompt, request=text, session=session, route=route.name,
            memories=memories, extra=chain.extra_context(run),
        )
        yield keep(Recalled(memories=context.memories, budget=context.budget))

        self.load_model()
        first_token: float | None = None
        first_at = last_at = 0.0
        streamed = 0  # pieces of text as they came (a model's token each, or a few held back together)
        t_gen = time.perf_counter()
        steps = self.toolbox.run(chain, run, context.messages)
        while True:
            try:
                event = next(steps)
            except StopIteration as stop:
                result: ChainResult = stop.value
                break
            if isinstance(event, Token):
                last_at, streamed = time.perf_counter(), streamed + 1
                if first_token is None:
                    first_token, first_at = (last_at - started) * 1000, last_at
            else:
                if isinstance(event, ApprovalNeeded) and not event.sandbox:  # what the person is asked to trust
                    event = replace(event, sandbox=sandbox_summary())
                keep(event)
            yield event
        gen_s = time.perf_counter() - t_gen

        saved = []
        for new in result.artifacts:
            artifact = self.sessions.save_artifact(
                session, kind=new.kind, title=new.title, route=route.name, content=new.content, path=new.path
            )
            saved.append(artifact)
            yield keep(ArtifactSaved(artifact))
        session.current_route = route.name
        session.turns.append(TurnRecord(request=text, reply=result.text, route=route.name, events=kept))
        batch = self._remember(session, saved)
        self.sessions.save(session)  # the turn is durable here; memory indexing follows in the background
        self._touched.add(session.name)
        self._write_later(batch)

        yield Finished(
            text=result.text,
            route=route.name,
            timings=Timings(
                recall_ms=round(recall_ms, 1), route_ms=round(route_ms, 1),
                first_token_ms=round(first_token, 1) if first_token is not None else None,
                total_ms=round((time.perf_counter() - started) * 1000, 1), tokens=result.tokens,
                tokens_per_s=_rate(result.tokens, gen_s),
                decode_tokens_per_s=_rate(streamed - 1, last_at - first_at),
            ),
        )

    def _recall(self, text: str, session: Session) -> list[RecalledMemory]:
        from memory import MemoryStoreError

        # The last turns are in the prompt's history already (and the newest may still be being
        # written): recall looks past them.
        in_history = {i for t in session.turns[-3:] if t.memory_id for i in (t.memory_id, t.memory_id + REPLY_SUFFIX)}
        in_history.add(summary_id(self.settings.user, session.name))  # this thread's own summary is news to no one
        try:
            hits = self._memory().search(text, k=self.settings.recall_k + len(in_history))
        except MemoryStoreError as exc:
            raise MemoryFailure(str(exc)) from exc
        recalled = [
            RecalledMemory(
                id=hit.memory.id, text=hit.memory.text, kind=hit.memory.kind, score=hit.score,
                session=hit.memory.session, route=hit.memory.metadata.get("route"),
                created_at=hit.memory.created_at.isoformat(), why=hit.why(),
            )
            for hit in one_version_each(by_relevance(hits))
            if hit.memory.id not in in_history and related(hit)
        ]
        return recalled[: self.settings.recall_k]   # the context builder's budget decides how many fit

    def _remember(self, session: Session, artifacts: list) -> list["Memory"]:
        """The memories of a turn (the session's last record): the turn, its artifacts, any stated
        facts and, when due, the session summary — one batch for `_write_later`."""
        from memory import Memory

        record = session.turns[-1]
        batch = turn_memories(record, session.name)
        record.memory_id = batch[0].id
        batch += [artifact_memory(artifact, session.name, record.route) for artifact in artifacts]
        for fact in extract_facts(record.request):
            # One id per (user, fact key): a restated fact replaces the old one (add upserts by id).
            fact_id = hashlib.sha1(f"{self.settings.user}\0{fact.key}".encode()).hexdigest()[:24]
            batch.append(Memory(
                id=fact_id, text=fact.text, kind="fact", session=session.name,
                metadata={"fact_key": fact.key, "source": "rule"},
            ))
        if summary_due(session):
            batch.append(self._summary_memory(session))
        return batch

    def _write(self, batch: list["Memory"]) -> None:
        from memory import MemoryStoreError

        try:
            self._memory().add_many(batch)
        except MemoryStoreError as exc:
            raise MemoryFailure(str(exc)) from exc

    def _write_later(self, batch: list["Memory"]) -> None:
        """Write `batch` on the writer thread, after the previous batch (one at a time, in order)."""
        with self._flush_lock:
            self.flush()
            with self._write_lock:
                if self._writer is None:
                    self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="throughline-remember")
                try:
                    ticket: str | None = self._kept.keep(batch)  # durable before the reply is shown: a kill loses nothing
                except DataDirError as exc:  # the write itself may still work: try it, and say what is at risk
                    log.warning("%s; this turn's memories are only in memory until they are stored", exc)
                    ticket = None
                self._pending = (self._writer.submit(self._write_kept, batch, ticket), batch, ticket)

    def _write_kept(self, batch: list["Memory"], ticket: str | None) -> None:
        self._write(batch)
        self._kept.done(ticket)

    def _recover_turns(self, session: Session) -> None:
        """Once per session and process: rewrite recent turns a crash kept out of long-term memory."""
        from memory import MemoryStoreError

        if session.name in self._checked:
            return
        self._checked.add(session.name)
        recent = [turn for turn in session.turns[-3:] if turn.memory_id]
        if not recent:
            return
        try:
            store = self.store
            missing = [turn for turn in recent if store.get(turn.memory_id) is None]
            if missing:
                store.add_many([m for turn in missing for m in turn_memories(turn, session.name)])
        except MemoryStoreError as exc:
            raise MemoryFailure(str(exc)) from exc

    def _summary_memory(self, session: Session) -> "Memory":
        """The session's summary under its fixed id (marks the session summarised: save it after)."""
        from memory import Memory

        session.summarized_through = session.turns[-1].memory_id or ""
        return Memory(
            id=summary_id(self.settings.user, session.name), text=summarize(session), kind="summary",
            session=session.name, metadata={"turns": len(session.turns)},
        )


def _rate(count: int, seconds: float) -> float | None:
    """`count` per second, rounded; None when nothing was timed."""
    return round(count / seconds, 2) if count > 0 and seconds > 0 else None


def durable(bot: Assistant, finished: Finished) -> Finished | Failed:
    """`finished` once its turn's memories are written, or the Failed saying why they cannot be: a
    face answering another process (`assistant serve`, `ask`'s resident agent) never tells it that
    a turn is done which memory does not hold."""
    try:
        bot.flush()
    except AssistantError as exc:
        return Failed(message=str(exc), error=type(exc).__name__, exit_code=exc.exit_code)
    return finished
