"""The OpenAI chat-completions shapes, plus the `throughline` object clients may read.

    {"id": "chatcmpl-…", "object": "chat.completion", "choices": [...], "usage": {...},
     "throughline": {"route", "recalled": [{"id","text","kind","score"}], "artifacts": [...], "timings": {...}}}

Streamed replies are `chat.completion.chunk` objects as SSE `data:` lines; the last chunk before
`data: [DONE]` has `finish_reason: "stop"` and the same `throughline` object. OpenAI clients keep
unknown fields (`completion.model_extra["throughline"]`) and otherwise ignore them.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.events import (
    ApprovalNeeded, Artifact, ArtifactSaved, Event, Failed, Finished, Recalled, RecalledMemory, Reply, Routed,
    Timings,
)

MODEL_ID = "throughline"


@dataclass
class TurnRecord:
    """What a turn's events add up to, for the `throughline` object."""

    session: str
    namespace: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))
    routed: Routed | None = None
    recalled: tuple[RecalledMemory, ...] = ()
    artifacts: list[Artifact] = field(default_factory=list)
    finished: Finished | None = None
    failed: Failed | None = None

    def see(self, event: Event) -> None:
        if isinstance(event, Routed):
            self.routed = event
        elif isinstance(event, Recalled):
            self.recalled = event.memories
        elif isinstance(event, ArtifactSaved):
            self.artifacts.append(event.artifact)
        elif isinstance(event, Finished):
            self.finished = event
        elif isinstance(event, Failed):
            self.failed = event

    def throughline(self) -> dict[str, Any]:
        finished = self.finished
        reply = Reply(
            text="", route=finished.route if finished else (self.routed.route if self.routed else ""),
            recalled=self.recalled, artifacts=tuple(self.artifacts),
            timings=finished.timings if finished else Timings(),
            route_score=self.routed.score if self.routed else 0.0, route_why=self.routed.why if self.routed else "",
        )
        shown = reply.to_json()
        del shown["text"]
        shown.update(route_score=round(reply.route_score, 4), route_why=reply.route_why,
                     session=self.session, namespace=self.namespace)
        return shown


def completion(turn: TurnRecord, model: str) -> dict[str, Any]:
    text = turn.finished.text if turn.finished else ""
    tokens = turn.finished.timings.tokens if turn.finished else 0
    return {
        "id": turn.id, "object": "chat.completion", "created": turn.created, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": tokens, "total_tokens": tokens},
        "throughline": turn.throughline(),
    }


def chunk(turn: TurnRecord, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    body = {
        "id": turn.id, "object": "chat.completion.chunk", "created": turn.created, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra,
    }
    return sse(body)


def approval_extra(event: ApprovalNeeded, session: str) -> dict[str, Any]:
    return {"throughline": {"approval": {
        "code": event.code, "language": event.language,
        "answer": f"POST /v1/sessions/{session}/approval {{\"approve\": true|false}}",
    }}}


def sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, default=str)
    return f"{head}data: {text}\n\n"


def event_json(event: Event) -> dict[str, Any]:
    """A typed event as JSON for the event stream (`/v1/turns`): its fields, named by its class."""
    return {"type": type(event).__name__, **asdict(event)}
