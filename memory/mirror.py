"""An in-memory mirror of one namespace: what hybrid search needs besides Chroma's vectors.

Rows hold the memories in write order with their times, kinds, sessions and speakers as numpy
arrays (for cheap masks at 100k rows), each session's rows in time order (for neighbouring-turn
context), the BM25 index and the copy of their vectors (`memory.vector_copy`). The store keeps it
in step with the journal (embedded mode) or with Chroma (server mode); replacing a memory kills
its old row and appends a new one.
"""

from __future__ import annotations

import bisect
import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Iterable, Iterator

from memory.lexical import LexicalIndex
from memory.records import KINDS, Memory
from memory.vector_copy import VectorCopy

if TYPE_CHECKING:
    import numpy as np

SPEAKER_KEYS = ("speaker", "author", "role", "name")
SESSIONLESS_GAP_S = 6 * 3600
_SPEAKER_PREFIX = re.compile(r"^\s*([A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,2}):\s")


def speaker_of(memory: Memory) -> str | None:
    """Who said it: a `speaker`-like metadata value, else a leading `Name:` in the text."""
    for key in SPEAKER_KEYS:
        value = memory.metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    match = _SPEAKER_PREFIX.match(memory.text)
    return match.group(1) if match else None


def embedding_text(memory: Memory) -> str:
    """What the embedder sees: the text without a leading `Name:`. In a short turn the name
    dominates the vector, so every line of one speaker would look alike to a question naming
    them; who said it is matched by the speaker signal instead."""
    stripped = _SPEAKER_PREFIX.sub("", memory.text, count=1).strip()
    return stripped or memory.text


def strip_names(query: str, names: Iterable[str]) -> str:
    """`query` without the given speaker names (and their possessive 's)."""
    for name in names:
        query = re.sub(rf"\b{re.escape(name)}(?:'s)?\b", " ", query, flags=re.IGNORECASE)
    return " ".join(query.split()) or query


def lexical_text(memory: Memory) -> str:
    """What BM25 indexes: the text (without a leading `Name:`, which every turn of that
    speaker shares and which the speaker signal covers) plus a title."""
    title = memory.metadata.get("title")
    text = _SPEAKER_PREFIX.sub("", memory.text, count=1)
    return f"{text} {title}" if isinstance(title, str) else text


class Rows:
    """The mirror's rows: Memory objects, None for deleted ones, or (loaded from a snapshot) a
    memory's JSON, decoded on first access: a search reads a few hundred rows of 100k, and
    unpickling 100k Memory objects would cost seconds."""

    def __init__(self) -> None:
        self._items: list[Memory | str | None] = []

    def __getitem__(self, row: int) -> Memory | None:
        item = self._items[row]
        if isinstance(item, str):
            item = self._items[row] = Memory.from_dict(json.loads(item))
        return item

    def __setitem__(self, row: int, memory: Memory | None) -> None:
        self._items[row] = memory

    def append(self, memory: Memory) -> None:
        self._items.append(memory)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Memory | None]:
        return (self[row] for row in range(len(self._items)))


class Mirror:
    """Rows of one namespace's memories; row numbers only grow (until the store rebuilds it)."""

    def __init__(self, memories: Iterable[Memory] = ()) -> None:
        import numpy as np

        self.rows = Rows()
        self.row_of: dict[str, int] = {}
        self.speaker: list[str | None] = []
        self.speakers: Counter[str] = Counter()
        self.sessions: dict[str | None, list[tuple[float, int]]] = {}
        self.lexical = LexicalIndex()
        self.vectors = VectorCopy()
        self.dead = 0
        self._ts = np.zeros(1024, dtype=np.float64)
        self._alive = np.zeros(1024, dtype=bool)
        self._kind = np.zeros(1024, dtype=np.int8)
        for memory in memories:
            self.put(memory)

    # -- changes -------------------------------------------------------------------------------

    def put(self, memory: Memory, vector: "Iterable[float] | None" = None) -> None:
        import numpy as np

        self.delete(memory.id)
        row = len(self.rows)
        if row >= len(self._ts):
            grow = len(self._ts)
            self._ts = np.concatenate([self._ts, np.zeros(grow, dtype=np.float64)])
            self._alive = np.concatenate([self._alive, np.zeros(grow, dtype=bool)])
            self._kind = np.concatenate([self._kind, np.zeros(grow, dtype=np.int8)])
        ts = memory.created_at.timestamp()
        self.rows.append(memory)
        self.row_of[memory.id] = row
        self._ts[row], self._alive[row], self._kind[row] = ts, True, KINDS.index(memory.kind)
        speaker = speaker_of(memory)
        self.speaker.append(speaker)
        if speaker:
            self.speakers[speaker.lower()] += 1
        bisect.insort(self.sessions.setdefault(memory.session, []), (ts, row))
        self.lexical.add(row, lexical_text(memory))
        if vector is not None:
            self.vectors.set(row, vector)

    def delete(self, id: str) -> bool:
        row = self.row_of.pop(id, None)
        if row is None:
            return False
        memory = self.rows[row]
        self.rows[row] = None
        self._alive[row] = False
        self.dead += 1
        speaker = self.speaker[row]
        if speaker:
            self.speakers[speaker.lower()] -= 1
            if self.speakers[speaker.lower()] <= 0:
                del self.speakers[speaker.lower()]
        turns = self.sessions.get(memory.session, [])
        at = bisect.bisect_left(turns, (memory.created_at.timestamp(), row))
        if at < len(turns) and turns[at][1] == row:
            turns.pop(at)
        self.lexical.prune({row})
        return True

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.row_of)

    @property
    def size(self) -> int:
        return len(self.rows)

    def get(self, id: str) -> Memory | None:
        row = self.row_of.get(id)
        return None if row is None else self.rows[row]

    def live(self) -> list[Memory]:
        return [m for m in self.rows if m is not None]

    @property
    def alive(self) -> "np.ndarray":
        return self._alive[: self.size]

    @property
    def created(self) -> "np.ndarray":
        return self._ts[: self.size]

    @property
    def kinds(self) -> "np.ndarray":
        return self._kind[: self.size]

    def neighbours(self, row: int, span: int = 1) -> list[int]:
        """Up to `span` rows before and after `row` in its session, in time (then write) order.

        Turns without a session count as one running conversation, but only turns within
        SESSIONLESS_GAP_S of each other are neighbours there."""
        memory = self.rows[row]
        if memory is None or (memory.session is None and memory.kind != "turn"):
            return []
        turns = self.sessions.get(memory.session, [])
        at = bisect.bisect_left(turns, (memory.created_at.timestamp(), row))
        if at >= len(turns) or turns[at][1] != row:
            return []
        lo, hi = max(0, at - span), min(len(turns), at + span + 1)
        found = [turns[i][1] for i in range(lo, hi) if i != at]
        if memory.session is None:
            ts = turns[at][0]
            found = [r for r in found if self.rows[r].kind == "turn" and abs(self._ts[r] - ts) <= SESSIONLESS_GAP_S]
        return found
