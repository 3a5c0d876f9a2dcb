"""Embedded mode's write path and catch-up: the journal first, then Chroma, then the mirror.

A write is appended to the namespace's journal (fsync'd) before Chroma sees it, and this
process's read position moves past it only once Chroma and the mirror have it, so a crash in
between leaves a record the next `catch_up` re-applies. `catch_up` also applies what other
processes appended since we last looked. Every method runs under the store's lock (see
`memory.embedded`, which holds the lock, the journal and `apply_to_chroma`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from memory import chroma_backend as backend
from memory import snapshot, timeparse
from memory.embedded import EmbeddedLog, apply_to_chroma, register_namespace
from memory.journal import del_record, put_record, replay
from memory.mirror import Mirror
from memory.records import Memory

PAGE_SIZE = 256


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
        self._prefetch: snapshot.Prefetch | None = None

    # -- the write path --------------------------------------------------------------------------

    def journal_puts(self, memories: Iterable[Memory]) -> int:
        """Make the puts durable before Chroma sees them; returns the journal's new end."""
        return self.log.journal.append([put_record(m) for m in memories])

    def journal_delete(self, ids: list[str]) -> int:
        return self.log.journal.append([del_record(ids)])

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
                for id, memory in state.items():
                    self.mirror.put(memory) if memory is not None else self.mirror.delete(id)
        log.advance(tail.end)

    def ensure_mirror(self) -> Mirror:
        """The mirror, on first use: from its snapshot plus the journal written since, else built
        from the whole journal (the source of truth)."""
        if self.mirror is None:
            journal = self.log.journal
            inode, size = journal.identity()
            prefetch, self._prefetch = self._prefetch, None
            loaded = prefetch.take(inode) if prefetch is not None else None
            if loaded is None:  # none prefetched (or saved since by another process)
                loaded = snapshot.load(self._snapshot_file, inode, size)
            if loaded is not None:
                mirror, self._snapshot_offset = loaded
                tail = journal.read(self._snapshot_offset)
                self.log.problems.extend(tail.problems)
                for id, memory in replay(tail.records, self.log.problems).items():
                    mirror.put(memory) if memory is not None else mirror.delete(id)
                state = None  # built only if Chroma disagrees: it decodes every row
            else:
                self._snapshot_offset = None
                state = replay(journal.read(0).records, self.log.problems)
                mirror = Mirror(m for m in state.values() if m is not None)
            self.mirror = mirror
            collection = self._collection(False)
            with backend.translate_errors(self._place):
                stored = collection.count() if collection is not None else 0
            if stored != len(self.mirror):
                self._reconcile(state if state is not None else {m.id: m for m in self.mirror.live()})
        return self.mirror

    def save_snapshot(self, *, force: bool = False) -> None:
        """Save the mirror for the next open, when there is none yet or the journal has grown
        `snapshot.REWRITE_AFTER_BYTES` past it (or `force`). Call with the mirror in step with
        the journal (after a catch-up or a write)."""
        if self.mirror is None or self.log.inode == 0:
            return
        saved = self._snapshot_offset
        if not force and saved is not None and self.log.offset - saved < snapshot.REWRITE_AFTER_BYTES:
            return
        snapshot.save(self._snapshot_file, self.mirror, self.log.inode, self.log.offset)
        self._snapshot_offset = self.log.offset

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

    def _chroma_all(self, collection: Any) -> Iterable[Memory]:
        return backend.read_all(collection, self._namespace, self._place, PAGE_SIZE)
