"""The HTTP face of the agent: an OpenAI-compatible chat endpoint backed by the whole turn
(recall → route → chain → remember), the typed events as SSE, and health checks.

FastAPI (on Starlette) because it is the well-kept ASGI stack with request validation, exception
handlers and streaming built in; uvicorn runs it. Throughline's own resources (memories,
sessions, route) are in `assistant.serve.resources`.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from assistant.errors import AssistantError
from assistant.events import ApprovalNeeded, Event, Failed, Finished, Token
from assistant.serve import openai_format as fmt
from assistant.serve.agents import Agents
from assistant.serve.auth import Caller, RequireKey, authenticate, session_name
from assistant.serve.config import ServeConfig
from assistant.serve.http_errors import BodyLimit, body, http_error, install, status_of
from assistant.serve.turns import Approvals, Gate, run_turn

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.agent import Assistant
    from assistant.settings import Settings


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, …: accepted, the server's settings rule
    messages: list[Message]
    model: str | None = None
    stream: bool = False
    user: str | None = None

    def request(self) -> str:
        """The last user message is the turn's request (the thread's history is the session's)."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text()
        raise http_error(400, "messages: there is no user message")


class TurnRequest(BaseModel):
    input: str
    namespace: str | None = None


class Server:
    """What the routes share: the config, the assistants, admission and pending approvals."""

    def __init__(self, settings: "Settings", config: ServeConfig, chat_model: "BaseChatModel | None") -> None:
        self.settings, self.config = settings, config
        self.agents = Agents(settings, config, chat_model)
        self.gate = Gate(self.agents.parallel, config.queue, config.retry_after_s)
        self.approvals = Approvals(config.approval_timeout_s)
        self.model_ready = threading.Event()
        self.load_error: str | None = None

    def caller(self, request: Request) -> Caller:
        return authenticate(self.config, request.headers.get("authorization"))

    async def bot(self, namespace: str) -> "Assistant":
        return await anyio.to_thread.run_sync(self.agents.get, namespace)

    def approver(self, namespace: str, session: str) -> Callable[[threading.Event], Callable[[str], bool] | None]:
        """Per policy: "ask" waits for an answer over HTTP; "never" passes no approver (the chain
        then says how to run the code instead); "auto" never asks (the Assistant auto-runs)."""
        if self.config.approval != "ask":
            return lambda cancelled: None
        return lambda cancelled: self.approvals.asker(namespace, session, cancelled)

    def load(self) -> None:
        """Load the model and open the default namespace's memory now, not on the first request."""
        try:
            bot = self.agents.default()
            bot.load_model()
            bot.route("warm up")
        except Exception as exc:  # noqa: BLE001 - reported by /readyz and by the first turn
            self.load_error = str(exc) if isinstance(exc, AssistantError) else f"{type(exc).__name__}: {exc}"
        finally:
            self.model_ready.set()


def create_app(settings: "Settings", config: ServeConfig, *, chat_model: "BaseChatModel | None" = None) -> FastAPI:
    server = Server(settings, config, chat_model)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=server.load, name="load-model", daemon=True).start()
        yield
        await anyio.to_thread.run_sync(server.agents.close)

    app = FastAPI(title="Throughline", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = server
    install(app)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(RequireKey, config=config)  # added last = runs first: no key, no body read
    if config.cors_origins:  # off unless configured; outermost so preflights are answered
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["Retry-After"])

    from assistant.serve.resources import router

    app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        problems = []
        if not server.model_ready.is_set():
            problems.append("the model is loading")
        elif server.load_error:
            problems.append(f"startup failed: {server.load_error}")
        try:
            await anyio.to_thread.run_sync(lambda: server.agents.default().store.count())
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure as not ready
            problems.append(f"memory unreachable: {exc}")
        status = 503 if problems else 200
        return JSONResponse({"ready": not problems, "problems": problems}, status)

    @app.get("/v1/models")
    async def models(caller: Caller = Depends(server.caller)) -> dict[str, Any]:
        return {"object": "list", "data": [
            {"id": fmt.MODEL_ID, "object": "model", "created": 0, "owned_by": "throughline"}
        ]}

    @app.post("/v1/chat/completions")
    async def chat(payload: ChatRequest, request: Request, caller: Caller = Depends(server.caller)) -> Any:
        namespace = caller.namespace(payload.user or request.headers.get("x-throughline-namespace"), settings.user)
        session = session_name(request.headers.get("x-throughline-session"))
        text = payload.request()
        bot = await server.bot(namespace)
        turn = fmt.TurnRecord(session=session, namespace=namespace)
        model = payload.model or fmt.MODEL_ID
        ticket = server.gate.admit(namespace, session)
        events = _events(server, ticket, bot, text, session, namespace)
        if payload.stream:
            return _streamed(events, turn, model, ticket)
        try:
            await _until_disconnected(request, events, turn)
        finally:
            ticket.release()
        if turn.failed is not None:
            status = status_of(turn.failed.error)
            return JSONResponse(body(status, turn.failed.message), status)
        if turn.finished is None:
            raise http_error(499, "the client went away")
        return fmt.completion(turn, model)

    @app.post("/v1/turns")
    async def turns(payload: TurnRequest, request: Request, caller: Caller = Depends(server.caller)) -> Any:
        """The typed events of one turn as SSE (`event: Token`, `data: {...}`), for UIs that show
        tool calls, approvals and artifacts live."""
        namespace = caller.namespace(payload.namespace or request.headers.get("x-throughline-namespace"), settings.user)
        session = session_name(request.headers.get("x-throughline-session"))
        bot = await server.bot(namespace)
        ticket = server.gate.admit(namespace, session)
        events = _events(server, ticket, bot, payload.input, session, namespace)

        async def stream() -> AsyncIterator[str]:
            async for event in events:
                yield fmt.sse(fmt.event_json(event), event=type(event).__name__)
            yield fmt.sse("[DONE]")

        return _sse_response(stream(), ticket)

    return app


async def _events(server: Server, ticket: Any, bot: "Assistant", text: str, session: str, namespace: str) -> AsyncIterator[Event]:
    async with ticket.hold():
        async for event in run_turn(bot, text, session, server.approver(namespace, session)):
            yield event


async def _until_disconnected(request: Request, events: AsyncIterator[Event], turn: fmt.TurnRecord) -> None:
    """Gather a turn for a non-streamed reply; a client that hangs up cancels it."""
    async with anyio.create_task_group() as group:
        async def watch() -> None:
            while not await request.is_disconnected():
                await anyio.sleep(0.1)
            group.cancel_scope.cancel()

        group.start_soon(watch)
        async for event in events:
            turn.see(event)
        group.cancel_scope.cancel()


def _streamed(events: AsyncIterator[Event], turn: fmt.TurnRecord, model: str, ticket: Any) -> StreamingResponse:
    async def stream() -> AsyncIterator[str]:
        yield fmt.chunk(turn, model, {"role": "assistant", "content": ""})
        async for event in events:
            turn.see(event)
            if isinstance(event, Token):
                yield fmt.chunk(turn, model, {"content": event.text})
            elif isinstance(event, ApprovalNeeded):
                yield fmt.chunk(turn, model, {}, **fmt.approval_extra(event, turn.session))
            elif isinstance(event, Failed):
                yield fmt.sse(body(status_of(event.error), event.message))
            elif isinstance(event, Finished):
                yield fmt.chunk(turn, model, {}, "stop", throughline=turn.throughline())
        yield fmt.sse("[DONE]")

    return _sse_response(stream(), ticket)


def _sse_response(stream: AsyncIterator[str], ticket: Any) -> StreamingResponse:
    weakref.finalize(stream, ticket.release)  # a response that never starts gives its place back
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
