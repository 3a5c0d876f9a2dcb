"""Errors as HTTP answers: one line in OpenAI's error shape, never a traceback.

    {"error": {"message": "session name '../x' must be …", "type": "invalid_request_error", "code": 400}}

The agent's own errors (assistant.errors) keep their meaning: bad input is 400, an unreachable
model or memory is 502/503. Anything else is a bug, answered as a one-line 500 naming its class
(the traceback goes to the server's log only).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from assistant import errors

log = logging.getLogger("assistant.serve")

STATUS = {
    errors.InputError: 400, errors.ConfigError: 400, errors.UnknownModelSpec: 400,
    errors.ModelServerUnreachable: 502, errors.ModelUnavailable: 503, errors.MemoryFailure: 503,
    errors.DataDirError: 503,
}
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "invalid_request_error", 503: "server_busy"}


def http_error(status: int, message: str, kind: str | None = None, headers: dict[str, str] | None = None) -> HTTPException:
    exc = HTTPException(status_code=status, detail=message, headers=headers)
    exc.kind = kind or _TYPES.get(status, "server_error")  # type: ignore[attr-defined]
    return exc


def status_of(error: str) -> int:
    """The HTTP status for an AssistantError class name (a Failed event carries only the name)."""
    cls = _error_classes().get(error, errors.AssistantError)
    return next((code for klass, code in STATUS.items() if issubclass(cls, klass)), 500)


def _error_classes() -> dict[str, type]:
    """The error tree's classes by name (assistant/errors.py documents the tree)."""
    found: dict[str, type] = {}
    todo = [errors.AssistantError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo += cls.__subclasses__()
    return found


def body(status: int, message: str, kind: str | None = None) -> dict[str, Any]:
    one_line = " ".join(str(message).split())[:500]
    return {"error": {"message": one_line, "type": kind or _TYPES.get(status, "server_error"), "code": status}}


def install(app: Any) -> None:
    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(body(exc.status_code, exc.detail, getattr(exc, "kind", None)), exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(body(400, describe(exc.errors())), 400)

    @app.exception_handler(errors.AssistantError)
    async def _assistant(request: Request, exc: errors.AssistantError) -> JSONResponse:
        status = status_of(type(exc).__name__)
        return JSONResponse(body(status, str(exc)), status)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(body(500, f"internal error: {type(exc).__name__}"), 500)


def describe(problems: Any) -> str:
    """FastAPI's validation errors as one line: the first problem, where it is."""
    if not problems:
        return "malformed request"
    first = problems[0]
    if first.get("type") == "json_invalid":
        return "the body is not valid JSON"
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return f"{where or 'body'}: {first.get('msg', 'invalid')}"


class BodyLimit:
    """Pure ASGI middleware: 413 once a body passes `limit` bytes (declared or streamed)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:  # FastAPI re-raises an HTTPException met while reading the body
                    raise http_error(413, self._message)
            return message

        await self.app(scope, limited, send)

    @property
    def _message(self) -> str:
        return f"the body is larger than {self.limit} bytes"

    async def _refuse(self, send: Any) -> None:
        response = JSONResponse(body(413, self._message), 413)
        await response({"type": "http"}, _nothing, send)


async def _nothing() -> dict:
    return {"type": "http.disconnect"}
