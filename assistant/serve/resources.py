"""Throughline's own resources over HTTP: memories, sessions (with pending approvals), routing.

Every route works in one namespace: `X-Throughline-Namespace` (or `?namespace=`), else the API
key's first namespace, else the server's user. Sessions are named by the path, validated as the
`X-Throughline-Session` header is. Blocking store calls run in worker threads.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.serve.auth import session_name
from assistant.serve.http_errors import http_error

router = APIRouter(prefix="/v1")
KINDS = Literal["turn", "artifact", "fact", "summary"]


class NewMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    kind: KINDS = "fact"
    session: str | None = None
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)


class RouteRequest(BaseModel):
    text: str
    session: str | None = None


class Answer(BaseModel):
    approve: bool


class Scope:
    """The server, this request's namespace and its Assistant."""

    def __init__(self, request: Request) -> None:
        self.server = request.app.state.server
        caller = self.server.caller(request)
        asked = request.headers.get("x-throughline-namespace") or request.query_params.get("namespace")
        self.namespace = caller.namespace(asked, self.server.settings.user)

    async def bot(self) -> Any:
        return await self.server.bot(self.namespace)

    async def run(self, work: Any, *args: Any) -> Any:
        from memory import MemoryStoreError

        from assistant.errors import MemoryFailure

        def call() -> Any:
            try:
                return work(*args)
            except MemoryStoreError as exc:
                raise MemoryFailure(str(exc)) from exc

        return await anyio.to_thread.run_sync(call)


def _memory_json(memory: Any, score: float | None = None) -> dict[str, Any]:
    shown = {"id": memory.id, "text": memory.text, "kind": memory.kind, "session": memory.session,
             "created_at": memory.created_at.isoformat(), "metadata": dict(memory.metadata)}
    if score is not None:
        shown["score"] = round(score, 4)
    return shown


# -- memories ---------------------------------------------------------------------------------

@router.get("/memories")
async def search_memories(request: Request, q: str, k: int = 5, kind: KINDS | None = None) -> dict[str, Any]:
    scope = Scope(request)
    if not 0 < k <= 100:
        raise http_error(400, "k must be between 1 and 100")
    bot = await scope.bot()
    hits = await scope.run(lambda: bot.store.search(q, k=k, kind=kind))
    return {"object": "list", "data": [_memory_json(h.memory, h.score) for h in hits]}


@router.post("/memories", status_code=201)
async def add_memory(request: Request, new: NewMemory) -> dict[str, Any]:
    from memory import Memory

    from assistant.inputs import validate_request

    scope = Scope(request)
    if new.session is not None:
        session_name(new.session)
    bot = await scope.bot()
    text = validate_request(new.text, bot.settings.max_request_chars)
    memory = Memory(text=text, kind=new.kind, session=new.session, metadata={"source": "http", **new.metadata})
    [memory_id] = await scope.run(lambda: bot.store.add_many([memory]))
    return {"id": memory_id}


@router.get("/memories/export")
async def export_memories(request: Request) -> StreamingResponse:
    """Every memory of the namespace as JSON Lines (the format `assistant memory import` reads)."""
    import io

    scope = Scope(request)
    bot = await scope.bot()
    buffer = io.StringIO()
    await scope.run(lambda: bot.store.export_jsonl(buffer))
    return StreamingResponse(iter([buffer.getvalue()]), media_type="application/x-ndjson",
                             headers={"Content-Disposition": f'attachment; filename="{scope.namespace}.jsonl"'})


@router.get("/memories/{memory_id}")
async def get_memory(request: Request, memory_id: str) -> dict[str, Any]:
    scope = Scope(request)
    bot = await scope.bot()
    memory = await scope.run(lambda: bot.store.get(memory_id))
    if memory is None:
        raise http_error(404, f"no memory with id {memory_id[:80]!r}")
    return _memory_json(memory)


@router.delete("/memories/{memory_id}")
async def delete_memory(request: Request, memory_id: str) -> dict[str, Any]:
    scope = Scope(request)
    bot = await scope.bot()
    if not await scope.run(lambda: bot.store.forget(memory_id)):
        raise http_error(404, f"no memory with id {memory_id[:80]!r}")
    return {"id": memory_id, "deleted": True}


# -- sessions ---------------------------------------------------------------------------------

def _session_json(session: Any, *, full: bool) -> dict[str, Any]:
    shown = {"name": session.name, "current_route": session.current_route, "turns": len(session.turns),
             "artifacts": len(session.artifacts), "created_at": session.created_at, "updated_at": session.updated_at}
    if full:
        shown["turns"] = [asdict(t) for t in session.turns]
        shown["artifacts"] = [asdict(a) for a in session.artifacts]
    return shown


@router.get("/sessions")
async def list_sessions(request: Request) -> dict[str, Any]:
    scope = Scope(request)
    bot = await scope.bot()
    sessions = await scope.run(bot.sessions.list)
    return {"object": "list", "data": [_session_json(s, full=False) for s in sessions]}


@router.get("/sessions/{name}")
async def get_session(request: Request, name: str) -> dict[str, Any]:
    scope = Scope(request)
    name = session_name(name)
    bot = await scope.bot()
    session = await scope.run(bot.sessions.load, name)
    if not session.turns and not session.artifacts:
        raise http_error(404, f"no session named {name!r}")
    return _session_json(session, full=True)


@router.delete("/sessions/{name}")
async def delete_session(request: Request, name: str) -> dict[str, Any]:
    scope = Scope(request)
    name = session_name(name)
    bot = await scope.bot()
    if not await scope.run(bot.sessions.delete, name):
        raise http_error(404, f"no session named {name!r}")
    return {"name": name, "deleted": True}


@router.get("/sessions/{name}/approval")
async def pending_approval(request: Request, name: str) -> dict[str, Any]:
    scope = Scope(request)
    code = scope.server.approvals.pending(scope.namespace, session_name(name))
    if code is None:
        raise http_error(404, f"session {name!r} has no code waiting for approval")
    return {"session": name, "code": code}


@router.post("/sessions/{name}/approval")
async def answer_approval(request: Request, name: str, answer: Answer) -> dict[str, Any]:
    scope = Scope(request)
    if not scope.server.approvals.answer(scope.namespace, session_name(name), answer.approve):
        raise http_error(404, f"session {name!r} has no code waiting for approval")
    return {"session": name, "approve": answer.approve}


# -- routing ----------------------------------------------------------------------------------

@router.post("/route")
async def route(request: Request, ask: RouteRequest) -> dict[str, Any]:
    scope = Scope(request)
    session = session_name(ask.session) if ask.session is not None else None
    bot = await scope.bot()
    found = await scope.run(lambda: bot.route(ask.text, session=session))
    return {"text": ask.text, "route": found.name, "score": round(found.score, 4), "why": found.why}
