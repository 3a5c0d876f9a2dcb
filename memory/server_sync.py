"""Server mode's mirror: loaded from the Chroma server, then kept current from its change feed.

Other clients write to the same server without telling us, so at most once a second (before an
operation) we fetch what was written since our last look (`tl.written`, with a margin for clock
skew between clients) and fold it into the mirror. Deletes by others are noticed when a search
would return a memory the server no longer has (see `memory.searching.hits`). There is no
journal: the server is the durable copy, so the write path needs no bookkeeping here.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Iterable

from memory import chroma_backend as backend
from memory.mirror import Mirror
from memory.records import Memory

SERVER_PAGE = 2000
REFRESH_S = 1.0
CLOCK_SKEW_S = 30.0


class ServerSync:
    """The same face as `EmbeddedSync`, for a store on a Chroma server."""

    log = None

    def __init__(self, namespace: str, place: str, collection: Callable[[bool], Any]) -> None:
        self.mirror: Mirror | None = None
        self._namespace = namespace
        self._place = place
        self._collection = collection
        self._refreshed = 0.0  # wall-clock time of the last change-feed read
        self._refresh_clock = 0.0

    def journal_puts(self, memories: Iterable[Memory]) -> None:
        return None

    def journal_delete(self, ids: list[str]) -> None:
        return None

    def vectors_written(self, memories: list[Memory], vectors: Any) -> None:
        return None  # the server keeps no snapshot: nothing searches a copy here

    def applied(self, end: None) -> None:
        return None

    def open(self) -> None:
        return None

    def catch_up(self) -> None:
        """Fold other clients' recent writes into the mirror, at most once a second."""
        if self.mirror is None or time.monotonic() - self._refresh_clock < REFRESH_S:
            return
        self._refresh_clock = time.monotonic()
        since = self._refreshed - CLOCK_SKEW_S
        collection = self._collection(False)
        if collection is None:
            return
        with backend.translate_errors(self._place):
            found = collection.get(where={backend.WRITTEN: {"$gte": since}}, include=["documents", "metadatas"])
        self._refreshed = time.time()
        for id, text, meta in zip(found["ids"], found["documents"], found["metadatas"]):
            memory = backend.decode(id, text, meta, self._namespace)
            memory = dataclasses.replace(memory, namespace=None)
            if self.mirror.get(id) != memory:
                self.mirror.put(memory)

    def ensure_mirror(self) -> Mirror:
        if self.mirror is None:
            self.mirror = Mirror(backend.read_all(self._collection(False), self._namespace, self._place, SERVER_PAGE))
            self._refreshed = time.time()
        return self.mirror
