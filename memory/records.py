"""The small records the memory store takes and gives back: `Memory`, `Hit` and `StoreStats`.

Times are always timezone-aware UTC. A naive `created_at` is read as UTC, not as the machine's
local time, so the same call stores the same instant on every machine.

`Memory.metadata` holds JSON values: str, int, float (finite), bool and None, plus lists and dicts
of them. Every value round-trips exactly through the store and JSON Lines; the scalar ones can
also be filtered on with `MemoryStore.search(where=...)`.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

KINDS = ("artifact", "fact", "summary", "turn")


def check_kind(kind: object) -> str:
    """`kind` itself, or ValueError naming the kinds there are."""
    if kind not in KINDS:
        raise ValueError(f"unknown memory kind {kind!r}; expected one of: {', '.join(KINDS)}")
    return kind  # type: ignore[return-value]


def as_utc(when: datetime) -> datetime:
    """`when` as an aware UTC datetime; a naive one is taken to be UTC already."""
    if not isinstance(when, datetime):
        raise TypeError(f"created_at must be a datetime, got {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def _check_json(value: Any, where: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value!r}; metadata numbers must be finite")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; metadata keys must be strings")
            _check_json(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}; metadata values must be JSON values "
        "(str, int, float, bool, None, list, dict)"
    )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Memory:
    """One remembered thing: a turn, an artifact, a fact or a session summary.

    `namespace` is filled in by the store on the way out; leave it None when adding (a memory
    whose namespace names another store is refused). Adding a memory whose `id` is already
    stored replaces it.
    """

    text: str
    kind: str = "turn"
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=_now)
    id: str = field(default_factory=_new_id)
    namespace: str | None = None
    session: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"Memory.text must be a str, got {type(self.text).__name__}")
        check_kind(self.kind)
        if not isinstance(self.metadata, dict):
            raise TypeError(f"Memory.metadata must be a dict, got {type(self.metadata).__name__}")
        _check_json(self.metadata, "metadata")
        # A copy, so later changes to the caller's dict do not change the memory.
        object.__setattr__(self, "metadata", dict(self.metadata))
        object.__setattr__(self, "created_at", as_utc(self.created_at))
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"Memory.id must be a non-empty str, got {self.id!r}")
        for name in ("namespace", "session"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"Memory.{name} must be None or a non-empty str, got {value!r}")

    def __hash__(self) -> int:
        return hash(self.id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; `Memory.from_dict` turns it back into an equal Memory."""
        return {
            "id": self.id,
            "text": self.text,
            "kind": self.kind,
            "metadata": self.metadata,
            "created_at": self.created_at.isoformat(),
            "namespace": self.namespace,
            "session": self.session,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Memory":
        """The inverse of `to_dict`; `id` and `created_at` are optional (new ones are made)."""
        if not isinstance(data, dict) or "text" not in data:
            raise ValueError("a memory record must be an object with at least a 'text' field")
        fields: dict[str, Any] = {"text": data["text"]}
        for name in ("kind", "metadata", "id", "namespace", "session"):
            if data.get(name) is not None:
                fields[name] = data[name]
        if data.get("created_at") is not None:
            fields["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**fields)


@dataclass(frozen=True)
class Hit:
    """A search result, best first.

    `score` orders the results: in hybrid search (the default) the fused relevance in [0, 1]
    (1 = ranked first by every signal); in `mode="vector"` the cosine similarity. `similarity`
    is always the cosine similarity of the memory to the query (-1..1, higher is closer): use it
    for an absolute "is this related at all" threshold. `sources` says what found it: "vector",
    "bm25", "time", "speaker", "context" (a neighbouring turn of a strong hit)."""

    memory: Memory
    score: float
    similarity: float | None = None
    sources: tuple[str, ...] = ()

    def why(self) -> str:
        """The signals behind this hit, for people: "similarity 0.71 · found by vector, bm25"."""
        parts = [] if self.similarity is None else [f"similarity {self.similarity:.2f}"]
        if self.sources:
            parts.append("found by " + ", ".join(self.sources))
        return " · ".join(parts)


@dataclass(frozen=True)
class StoreStats:
    """What `MemoryStore.stats()` reports. `by_namespace` counts every namespace on this path or
    server; `size_bytes` (the whole data dir) and `journal_bytes` are None in server mode."""

    namespace: str
    count: int
    by_kind: dict[str, int]
    size_bytes: int | None
    by_namespace: dict[str, int] = field(default_factory=dict)
    journal_bytes: int | None = None
