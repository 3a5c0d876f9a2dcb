"""The memory browser's logic, apart from its widgets: the filter typed in its search box, and
where (and why) a memory was recalled.

    revenue kind:fact session:q3 after:2026-05-01 before:2026-06-01

Words without a `key:` are the search text; `kind`, `session`, `after` and `before` filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.sessions import Session

FILTER_KEYS = ("kind", "session", "after", "before")


@dataclass(frozen=True)
class MemoryFilter:
    text: str = ""
    kind: str | None = None
    session: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    problem: str | None = None  # a filter that could not be read, said to the person

    @property
    def filtering(self) -> bool:
        return any(v is not None for v in (self.kind, self.session, self.since, self.until))

    def admits(self, memory) -> bool:
        """Whether a memory passes the kind/session/date filters (the search text aside)."""
        created = memory.created_at if memory.created_at.tzinfo else memory.created_at.replace(tzinfo=timezone.utc)
        return ((self.kind is None or memory.kind == self.kind)
                and (self.session is None or memory.session == self.session)
                and (self.since is None or created >= self.since)
                and (self.until is None or created < self.until))


def parse_filter(query: str) -> MemoryFilter:
    """The search box's text as a filter (see the module docstring)."""
    words, values, problem = [], {}, None
    for word in query.split():
        key, sep, value = word.partition(":")
        if sep and key.lower() in FILTER_KEYS and value:
            values[key.lower()] = value
        else:
            words.append(word)
    since = until = None
    try:
        if "after" in values:
            since = _day(values["after"])
        if "before" in values:
            until = _day(values["before"])
    except ValueError:
        problem = "dates are written YYYY-MM-DD, e.g. after:2026-05-01"
    return MemoryFilter(text=" ".join(words), kind=values.get("kind"), session=values.get("session"),
                        since=since, until=until, problem=problem)


def _day(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)


@dataclass(frozen=True)
class Recall:
    """One turn that recalled a memory, and why."""

    session: str
    turn: int  # 1-based
    request: str
    created_at: str
    score: float
    why: str


def recalls_of(memory_id: str, sessions: list[Session]) -> list[Recall]:
    """Every kept turn whose prompt included `memory_id`, newest first, with its score and signals."""
    found = []
    for session in sessions:
        for number, turn in enumerate(session.turns, 1):
            for record in turn.events:
                if record.get("event") != "Recalled":
                    continue
                for memory in record.get("memories", ()):
                    if memory.get("id") == memory_id:
                        found.append(Recall(session.name, number, turn.request, turn.created_at,
                                            float(memory.get("score") or 0.0), memory.get("why") or ""))
    return sorted(found, key=lambda r: r.created_at, reverse=True)
