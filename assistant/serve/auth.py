"""Who is calling and which namespaces they may use.

A key arrives as `Authorization: Bearer KEY` (what every OpenAI client sends) and is hashed at
once; only hashes are compared or kept. With no keys configured the server is open, which
`ServeConfig.check` allows on loopback only.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from assistant.serve.config import ServeConfig, hash_key, valid_name
from assistant.serve.http_errors import body, http_error


@dataclass(frozen=True)
class Caller:
    namespaces: tuple[str, ...] | None  # None: an open server, any namespace

    def namespace(self, requested: str | None, default: str) -> str:
        """The namespace this request works in: the one asked for, else the key's first, else the
        server's default user. 403 for a namespace the key is not bound to."""
        if requested is not None and not valid_name(requested):
            raise http_error(400, f"namespace {requested[:80]!r} must be letters, digits, '.', '_' or '-' (at most 64)")
        if self.namespaces is None:
            return requested or default
        if requested is None:
            return self.namespaces[0]
        if requested not in self.namespaces:
            raise http_error(403, f"this API key may not use namespace {requested!r}", "permission_error")
        return requested


def authenticate(config: ServeConfig, authorization: str | None) -> Caller:
    if not config.keys:
        return Caller(namespaces=None)
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise http_error(401, "missing API key; send 'Authorization: Bearer KEY'", "authentication_error")
    digest = hash_key(key.strip())
    for known, namespaces in config.keys.items():
        if hmac.compare_digest(known, digest):
            return Caller(namespaces=namespaces)
    raise http_error(401, "unknown API key", "authentication_error")


def session_name(header: str | None) -> str:
    """The thread from `X-Throughline-Session` (default `default`), refused if it could name a path."""
    name = "default" if header is None or header == "" else header
    if not valid_name(name):
        raise http_error(400, f"session name {name[:80]!r} must be letters, digits, '.', '_' or '-' (at most 64, no '..')")
    return name


class RequireKey:
    """Pure ASGI middleware: every /v1 request without a known key is a 401 before its body is read
    (so an unauthenticated caller learns nothing from validation errors). Health checks stay open."""

    def __init__(self, app, config: ServeConfig) -> None:
        self.app, self.config = app, config

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1") and scope.get("method") != "OPTIONS":
            headers = dict(scope.get("headers") or [])
            try:
                authenticate(self.config, headers.get(b"authorization", b"").decode("latin-1") or None)
            except HTTPException as exc:
                response = JSONResponse(body(exc.status_code, exc.detail, "authentication_error"), exc.status_code)
                return await response(scope, receive, send)
        await self.app(scope, receive, send)
