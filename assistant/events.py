"""The events one turn yields, and the records they carry.

`Assistant.stream()` is the only loop; the TUI, the CLI and `Assistant.ask()` all consume the same
events, so anything a face shows must be in one of these. They are plain frozen dataclasses so a
face can pattern-match on them (`match event: case Token(text=t): ...`) and serialise them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Iterable, Literal, Union


@dataclass(frozen=True)
class RecalledMemory:
    """A long-term memory put into the prompt, with where it came from."""

    id: str
    text: str
    kind: str
    score: float
    session: str | None = None
    route: str | None = None
    created_at: str | None = None
    why: str = ""  # the search signals that found it, e.g. "similarity 0.71 · found by vector, lexical"


@dataclass(frozen=True)
class ContextBudget:
    """How the context builder spent the prompt budget of a turn, in (approximate) tokens.

    `items` are (part, label, tokens) for each block put in: part is "memory", "artifact",
    "history" or "extra" (a chain's block, e.g. a table profile); `rule` is the data rule's cost."""

    budget: int
    memories: int = 0
    artifacts: int = 0
    history: int = 0
    extra: int = 0
    rule: int = 0
    items: tuple[tuple[str, str, int], ...] = ()

    @property
    def used(self) -> int:
        return self.memories + self.artifacts + self.history + self.extra + self.rule


@dataclass(frozen=True)
class Artifact:
    """Something a chain made that other chains can use: a draft, code, an output, a table, a chart."""

    id: str
    kind: str  # "draft" | "code" | "output" | "table" | "chart" | "analysis" | "note"
    title: str
    route: str
    path: str | None = None
    content: str = ""
    created_at: str = ""
    version: int = 1


@dataclass(frozen=True)
class Timings:
    recall_ms: float = 0.0
    route_ms: float = 0.0
    first_token_ms: float | None = None
    total_ms: float = 0.0
    tokens: int = 0
    tokens_per_s: float | None = None  # the model's tokens over generation, its prompt's reading included
    decode_tokens_per_s: float | None = None  # streamed pieces after the first over the span after it: decoding alone


@dataclass(frozen=True)
class Routed:
    route: str
    score: float
    why: str


@dataclass(frozen=True)
class Recalled:
    memories: tuple[RecalledMemory, ...]
    budget: ContextBudget | None = None  # the prompt budget the turn's context used


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class ToolStarted:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolFinished:
    name: str
    result: Any = None
    error: str | None = None
    duration_s: float = 0.0


@dataclass(frozen=True)
class ApprovalNeeded:
    """Code is about to run. The face answers through the `approve` callback given to stream()."""

    code: str
    language: str = "python"
    sandbox: str = ""  # how the code would be confined, in words (tools.confinement.summary())


@dataclass(frozen=True)
class ArtifactSaved:
    artifact: Artifact


@dataclass(frozen=True)
class Finished:
    text: str
    route: str
    timings: Timings


@dataclass(frozen=True)
class Failed:
    message: str
    error: str  # the error class name, e.g. "ModelServerUnreachable"
    exit_code: int = 1  # the error's `exit_code` (assistant.errors): 2 input/config, 3 memory, 4 model, 5 tool


Event = Union[
    Routed, Recalled, Token, ToolStarted, ToolFinished, ApprovalNeeded, ArtifactSaved, Finished, Failed
]


@dataclass(frozen=True)
class Reply:
    """What `Assistant.ask()` returns: the whole turn, gathered from its events."""

    text: str
    route: str
    recalled: tuple[RecalledMemory, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    timings: Timings = field(default_factory=Timings)
    route_score: float = 0.0
    route_why: str = ""

    def to_json(self) -> dict[str, Any]:
        """The `assistant ask --json` object (DESIGN.md §3)."""
        return {
            "route": self.route,
            "text": self.text,
            "recalled": [
                {"id": m.id, "text": m.text, "kind": m.kind, "score": round(m.score, 4)} for m in self.recalled
            ],
            "artifacts": [
                {"id": a.id, "kind": a.kind, "title": a.title, "path": a.path} for a in self.artifacts
            ],
            "timings": asdict(self.timings),
        }


ApprovalAnswer = Literal["yes", "no"]


def gather(events: "Iterable[Event]") -> Reply | Failed | None:
    """A turn's events as the Reply `Assistant.ask()` returns, its Failed event, or None when the
    events ended without either. One gatherer for the agent and for faces that receive the events
    from elsewhere (`assistant ask` through its resident agent)."""
    routed: Routed | None = None
    recalled: tuple[RecalledMemory, ...] = ()
    artifacts: list[Artifact] = []
    for event in events:
        if isinstance(event, Routed):
            routed = event
        elif isinstance(event, Recalled):
            recalled = event.memories
        elif isinstance(event, ArtifactSaved):
            artifacts.append(event.artifact)
        elif isinstance(event, Failed):
            return event
        elif isinstance(event, Finished):
            return Reply(
                text=event.text, route=event.route, recalled=recalled, artifacts=tuple(artifacts),
                timings=event.timings, route_score=routed.score if routed else 0.0,
                route_why=routed.why if routed else "",
            )
    return None


def event_record(event: Event) -> dict[str, Any]:
    """An event as a JSON-safe dict `{"event": "Routed", ...fields}`: what a session keeps of its
    turns and what a thread's JSON export carries. Values JSON cannot hold become their str(); an
    ArtifactSaved leaves out the artifact's body.

    json's encoder walks the dataclasses itself (`_json_fields`): `asdict` deep-copied every field
    first, ~10 ms a turn for a Recalled event of 64 memories."""
    import json

    data = event if is_dataclass(event) else {"value": event}
    record = json.loads(json.dumps(data, ensure_ascii=False, default=_json_fields))
    if isinstance(event, ArtifactSaved):
        record["artifact"].pop("content", None)  # the body is in the session's artifacts already
    return {"event": type(event).__name__, **record}


def _json_fields(value: Any) -> Any:
    """For json.dumps: a dataclass as its fields (json encodes them in turn), anything else as str()."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    return str(value)


_NESTED = {"memories": RecalledMemory, "budget": ContextBudget, "artifact": Artifact, "timings": Timings}
_EVENTS = {cls.__name__: cls for cls in (Routed, Recalled, Token, ToolStarted, ToolFinished, ApprovalNeeded,
                                          ArtifactSaved, Finished, Failed)}


def event_from_record(record: dict[str, Any]) -> Event:
    """`event_record`'s inverse, for events that crossed a process boundary: the same frozen
    dataclasses, so a face renders them as it renders its own (an ArtifactSaved's body stays
    behind: the artifact's file has it). Raises ValueError for a record that is not an event."""
    kind = _EVENTS.get(str(record.get("event")))
    if kind is None:
        raise ValueError(f"not an event record: {str(record)[:80]}")
    known = {f.name for f in fields(kind)}
    values = {k: v for k, v in record.items() if k in known}
    for name, cls in _NESTED.items():
        value = values.get(name)
        if isinstance(value, list):
            values[name] = tuple(_rebuilt(cls, v) for v in value)
        elif isinstance(value, dict):
            values[name] = _rebuilt(cls, value)
    return kind(**values)


def _rebuilt(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k in known}
    if cls is ContextBudget:
        values["items"] = tuple(tuple(item) for item in values.get("items", ()))
    return cls(**values)
