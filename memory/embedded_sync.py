"""Embedded mode's write path and catch-up: the journal first, then Chroma, then the mirror.

A write is appended to the namespace's journal (fsync'd) before Chroma sees it, and this
process's read position moves past it only once Chroma and the mirror have it, so a crash in
between leaves a record the next `catch_up` re-applies. `catch_up` also applies what other
processes appended since we last looked. Every method runs under the store's lock (see
`memory.embedded`, which holds the lock, the journal and `apply_to_chroma`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Iterable

from memory import chroma_backend as backend
from memory import snapshot, timeparse
from memory.embedded import EmbeddedLog, apply_to_chroma, register_namespace
from memory.errors import MemoryStoreError
from memory.journal import del_record, put_record, replay
from memory.mirror import Mirror
from memory.records import Memory
from memory.vector_copy import VectorLog, text_crc

PAGE_SIZE = 256
# The vector log is cleared once a snapshot holds its vectors and it has grown past this (~5,000
# memories): clearing sooner would only take the tail's vectors from processes open meanwhile.
VECTOR_LOG_BYTES = 8 << 20
logger = logging.getLogger(__name__)


class EmbeddedSync:
    """Keeps one namespace's Chroma collection and in-memory mirror in step with its journal."""

    def __init__(
        self,
        log: EmbeddedLog,
        path: Path,
        namespace: str,
        place: str,
        collection: Callable[[bool], Any],
        embed: Callable[[list[str]], Any],
        batch_size: Callable[[], int],
    ) -> None:
        self.log = log
        self.mirror: Mirror | None = None
        self._path = path
        self._namespace = namespace
        self._place = place
        self._collection = collection
        self._embed = embed
        self._batch_size = batch_size
        self._snapshot_file = log.journal.path.with_suffix(".snapshot")
        self._snapshot_offset: int | None = None  # the journal offset the saved snapshot reflects
        self._snapshot_vectors = False  # whether that snapshot holds the vectors (older ones do not)
        self._prefetch: snapshot.Prefetch | None = None
        self._vector_log = VectorLog(log.journal.path.with_suffix(".vectors"))
        self._checked = False  # the mirror's count compared with Chroma's

    # -- the write path --------------------------------------------------------------------------

    def journal_puts(self, memories: Iterable[Memory]) -> int:
        """Make the puts durable before Chroma sees them; returns the journal's new end."""
        return self.log.journal.append([put_record(m) for m in memories])

    def journal_delete(self, ids: list[str]) -> int:
        return self.log.journal.append([del_record(ids)])

    def vectors_written(self, memories: list[Memory], vectors: Any) -> None:
        """Keep the vectors of a write for the next process's copy (see `memory.vector_copy`)."""
        self._vector_log.append(memories, vectors)

    def applied(self, end: int) -> None:
        """Chroma and the mirror now reflect the journal up to `end`."""
        self.log.advance(end)

    # -- catching up -----------------------------------------------------------------------------

    def open(self) -> None:
        """At open: adopt a store from before journals existed, then replay what Chroma lacks."""
        log = self.log
        with backend.translate_errors(self._place):
            collection = self._collection(False)
            if not log.journal.exists():
                if collection is not None and collection.count():
                    log.journal.append(put_record(m) for m in self._chroma_all(collection))
                    log.inode, log.offset = 0, 0  # fall through: verifies what was just adopted
            if log.journal.exists() or collection is not None:
                register_namespace(self._path, self._namespace)
            if log.journal.exists() and collection is None:
                log.inode, log.offset = 0, 0  # Chroma lost the collection: replay everything
            self.catch_up()

    def prefetch(self) -> None:
        """Start loading the snapshot and compiling the query path's patterns in the background
        (call before opening Chroma, which takes seconds): the first search then finds them ready."""
        self._prefetch = snapshot.Prefetch(self._snapshot_file, *self.log.journal.identity(), then=timeparse.prepare)

    def catch_up(self) -> None:
        """Apply journal records this process has not seen (another process's, or a crash's)."""
        log = self.log
        if not log.changed():
            return
        tail, rewritten = log.read_new()
        if tail.records:
            with backend.translate_errors(self._place):
                collection = self._collection(True)
                state = apply_to_chroma(collection, tail.records, self._embed, self._batch_size(), log.problems)
        else:
            state = {}
        if self.mirror is not None:
            if rewritten:
                self.mirror = None  # rebuilt from the whole journal on next use
            else:
                before = self.mirror.size
                for id, memory in state.items():
                    self.mirror.put(memory) if memory is not None else self.mirror.delete(id)
                self._vectors_from_log(self.mirror, before)
        log.advance(tail.end)

    def ensure_mirror(self, *, check: bool = True) -> Mirror:
        """The mirror, on first use: from its snapshot plus the journal written since, else built
        from the whole journal (the source of truth). `check` compares its count with Chroma's
        (and reconciles them): the first Chroma call, which waits for Chroma's vector index."""
        if self.mirror is None:
            journal = self.log.journal
            inode, size = journal.identity()
            prefetch, self._prefetch = self._prefetch, None
            loaded = prefetch.take(inode) if prefetch is not None else None
            if loaded is None:  # none prefetched (or saved since by another process)
                loaded = snapshot.load(self._snapshot_file, inode, size)
            if loaded is not None:
                mirror, self._snapshot_offset = loaded
                self._snapshot_vectors = mirror.vectors.saved_rows == mirror.size
                saved_rows = mirror.size
                tail = journal.read(self._snapshot_offset)
                self.log.problems.extend(tail.problems)
                for id, memory in replay(tail.records, self.log.problems).items():
                    mirror.put(memory) if memory is not None else mirror.delete(id)
                self._vectors_from_log(mirror, saved_rows)
            else:
                self._snapshot_offset, self._snapshot_vectors = None, False
                mirror = Mirror(m for m in replay(journal.read(0).records, self.log.problems).values() if m is not None)
                self._vectors_from_log(mirror, 0)
            self.mirror, self._checked = mirror, False
        if check:
            self.check()
        return self.mirror

    def check(self) -> None:
        """Once a mirror: compare its count with Chroma's and reconcile them when they differ (a
        memory written to Chroma behind the journal's back, a crash). Chroma reads its vector
        index for this: asked with `get` first, which reads it outside the interpreter lock
        (`count` alone held it: 246 ms of 262 at 100k)."""
        if self.mirror is None or self._checked:
            return
        collection = self._collection(False)
        with backend.translate_errors(self._place):
            if collection is not None:
                collection.get(limit=1, include=[])
            stored = collection.count() if collection is not None else 0
        self._checked = True
        if stored != len(self.mirror):
            self._reconcile({m.id: m for m in self.mirror.live()})

    def save_snapshot(self, *, force: bool = False) -> None:
        """Save the mirror for the next open, when there is none yet or the journal has grown
        `snapshot.REWRITE_AFTER_BYTES` past it (or `force`). Call with the mirror in step with
        the journal (after a catch-up or a write)."""
        if self.mirror is None or self.log.inode == 0:
            return
        saved = self._snapshot_offset
        grown = force or saved is None or self.log.offset - saved >= snapshot.REWRITE_AFTER_BYTES
        if not grown and self._snapshot_vectors:
            return
        self._vectors_from_chroma()
        complete = not self.mirror.vectors.missing(self.mirror.alive)
        if not grown and not complete:
            return  # saving again would add no vectors
        if snapshot.save(self._snapshot_file, self.mirror, self.log.inode, self.log.offset):
            self._snapshot_offset, self._snapshot_vectors = self.log.offset, complete
            if self._vector_log.size() > VECTOR_LOG_BYTES:
                with self.log.locked_if_free() as locked:
                    if locked and not self.log.changed():  # no write since the one saved: the snapshot has them all
                        self._vector_log.clear()

    def rebuild(self) -> None:
        """For `memory doctor --repair`: rebuild the mirror from the journal and make Chroma and
        the journal agree on every memory, even when their counts already match."""
        self.catch_up()
        self.mirror = None
        self.ensure_mirror()
        self._reconcile(replay(self.log.journal.read(0).records))

    def _reconcile(self, state: dict[str, Memory | None]) -> None:
        """Chroma and the journal disagree on the count (a crash, an old store, a manual edit):
        put every journal memory into Chroma where missing and journal every Chroma memory the
        journal lacks."""
        with backend.translate_errors(self._place):
            collection = self._collection(True)
            records = [put_record(m) for m in state.values() if m is not None]
            apply_to_chroma(collection, records, self._embed, self._batch_size(), self.log.problems)
            extra = [m for m in self._chroma_all(collection) if m.id not in state or state[m.id] is None]
        if extra:
            self.log.advance(self.log.journal.append(put_record(m) for m in extra))
            for memory in extra:
                self.mirror.put(memory)

    def _vectors_from_log(self, mirror: Mirror, since_row: int) -> None:
        """Vectors for the rows the journal's tail added, from the writers' vector log."""
        logged = self._vector_log.read() if mirror.size > since_row else {}
        for row in range(since_row, mirror.size):
            memory = mirror.rows[row]
            found = logged.get(memory.id) if memory is not None else None
            if found is not None and found[0] == text_crc(memory):
                mirror.vectors.set(row, found[1])

    def _vectors_from_chroma(self) -> None:
        """Fill the copy's gaps from Chroma before a snapshot saves it (a store saved by older
        code, rows another process wrote without logging them); a failure leaves the gaps and
        the snapshot is saved without vectors."""
        missing = self.mirror.vectors.missing(self.mirror.alive)
        if not missing:
            return
        collection = self._collection(False)
        try:
            with backend.translate_errors(self._place):
                for start in range(0, len(missing), 4 * PAGE_SIZE):
                    rows = {self.mirror.rows[row].id: row for row in missing[start: start + 4 * PAGE_SIZE]}
                    found = collection.get(ids=list(rows), include=["embeddings"])
                    for id, vector in zip(found["ids"], found["embeddings"]):
                        self.mirror.vectors.set(rows[id], vector)
        except MemoryStoreError as exc:
            logger.info("the snapshot of %s is saved without vectors: %s", self._place, exc)

    def _chroma_all(self, collection: Any) -> Iterable[Memory]:
        return backend.read_all(collection, self._namespace, self._place, PAGE_SIZE)
