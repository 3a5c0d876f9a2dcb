"""One write, in the order that makes it durable: the sync's bookkeeping (embedded mode: the
journal, fsync'd) first, then Chroma, then the mirror, and only then is the write marked as
applied. A crash anywhere leaves a journal record that the next catch-up re-applies; a write
that fails in Chroma is never acknowledged. Callers hold the store's lock and have caught up."""

from __future__ import annotations

from typing import Any, Callable

from memory import chroma_backend as backend
from memory.embedded_sync import EmbeddedSync
from memory.records import Memory
from memory.server_sync import ServerSync

Sync = EmbeddedSync | ServerSync


def put(sync: Sync, collection: Callable[[], Any], chunk: list[Memory], vectors: Any, place: str) -> None:
    """Store `chunk` (already embedded as `vectors`) in the namespace's collection."""
    end = sync.journal_puts(chunk)
    with backend.translate_errors(place):
        collection().upsert(
            ids=[m.id for m in chunk],
            embeddings=vectors,
            metadatas=[backend.encode(m) for m in chunk],  # the text is metadata (see chroma_backend)
        )
    sync.vectors_written(chunk, vectors)
    if sync.mirror is not None:
        for memory, vector in zip(chunk, vectors):
            sync.mirror.put(memory, vector)
    sync.applied(end)


def delete(sync: Sync, collection: Any, ids: list[str], place: str) -> int:
    """Delete those of `ids` the collection holds (None: no collection yet); returns how many."""
    with backend.translate_errors(place):
        if collection is None:
            return 0
        present = collection.get(ids=ids, include=[])["ids"]
        if not present:
            return 0
        end = sync.journal_delete(present)
        collection.delete(ids=present)
    if sync.mirror is not None:
        for id in present:
            sync.mirror.delete(id)
    sync.applied(end)
    return len(present)
