"""Embedded mode's safety: the inter-process lock, the journal and keeping Chroma in step with it.

Every operation on an embedded store runs under `<path>/.lock` (a `filelock.FileLock`), reads
included: embedded Chroma is not safe for concurrent use across processes, so processes sharing
a data dir take turns, one operation at a time (milliseconds each). One that waits longer than
`lock_timeout` gets `StoreBusy`, which suggests a Chroma server (`--memory-url`).

Inside the lock, `EmbeddedSync.catch_up` (in `memory.embedded_sync`, with `apply_to_chroma`
below) makes Chroma reflect every journal record written since this process last looked (by itself at open, or by another process since): puts missing from Chroma (or stale
there) are embedded and upserted, deletes are applied. `<journal>.ckpt` remembers up to where
Chroma is known to be in step, so opening a big store does not re-check it all.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from memory import chroma_backend as backend
from memory.errors import StoreBusy
from memory.journal import JOURNAL_DIR, Journal, Tail, replay
from memory.mirror import embedding_text
from memory.records import Memory

CHECKPOINT_EVERY_S = 2.0
NAMESPACES_FILE = "namespaces.json"


def journal_path(path: Path, namespace: str) -> Path:
    return path / JOURNAL_DIR / f"{backend.collection_name(namespace)}.jsonl"


def journal_namespaces(path: Path) -> dict[str, str]:
    """journal file name -> namespace, for every journal under `path`."""
    try:
        return json.loads((path / JOURNAL_DIR / NAMESPACES_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def register_namespace(path: Path, namespace: str) -> None:
    """Record which namespace a journal belongs to (its file name is a hash); call under the lock."""
    names = journal_namespaces(path)
    file = journal_path(path, namespace).name
    if names.get(file) == namespace:
        return
    names[file] = namespace
    target = path / JOURNAL_DIR / NAMESPACES_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{NAMESPACES_FILE}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(names, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, target)


def store_busy(path: Path, waited: float) -> StoreBusy:
    """The error for a store another process held longer than `waited` seconds."""
    return StoreBusy(
        f"another process has held the memory store {path} for over {waited:g} s; "
        "to share memory between processes, run a Chroma server and pass --memory-url"
    )


class EmbeddedLog:
    """The journal of one namespace plus what this process has applied of it."""

    def __init__(self, path: Path, namespace: str, lock_timeout: float) -> None:
        from filelock import FileLock

        self.path = path
        self.namespace = namespace
        self.journal = Journal(journal_path(path, namespace))
        self.lock_timeout = lock_timeout
        self._lock = FileLock(path / ".lock")
        self._checkpoint_file = self.journal.path.with_suffix(".ckpt")
        self.inode, self.offset = self._read_checkpoint()
        self._checkpointed_at = 0.0
        self.problems: list[str] = []

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=self.lock_timeout)
        except Timeout as exc:
            raise store_busy(self.path, self.lock_timeout) from exc
        try:
            yield
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def locked_if_free(self) -> Iterator[bool]:
        """The lock if no one holds it now (True), else nothing (False): for chores that can wait."""
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            self._lock.release()

    def changed(self) -> bool:
        """Has the journal moved past what this process applied (cheap: one stat)?"""
        inode, size = self.journal.identity()
        return inode != self.inode or size != self.offset

    def read_new(self) -> tuple[Tail, bool]:
        """Records after our offset; the bool says the journal was rewritten (start from 0)."""
        inode, size = self.journal.identity()
        rewritten = inode != self.inode or size < self.offset
        tail = self.journal.read(0 if rewritten else self.offset)
        self.problems.extend(tail.problems)
        return tail, rewritten

    def advance(self, end: int) -> None:
        self.inode, self.offset = self.journal.identity()[0], end
        if time.monotonic() - self._checkpointed_at > CHECKPOINT_EVERY_S:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Remember that Chroma reflects the journal up to `offset` (no fsync: losing it only costs a re-check)."""
        tmp = self._checkpoint_file.with_name(self._checkpoint_file.name + f".tmp{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):  # the dir may have been moved aside by doctor
            tmp.write_text(json.dumps({"inode": self.inode, "offset": self.offset}), encoding="utf-8")
            os.replace(tmp, self._checkpoint_file)
        self._checkpointed_at = time.monotonic()

    def _read_checkpoint(self) -> tuple[int, int]:
        try:
            data = json.loads(self._checkpoint_file.read_text(encoding="utf-8"))
            inode, offset = int(data["inode"]), int(data["offset"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return (0, 0)
        current_inode, size = self.journal.identity()
        if inode != current_inode or offset > size:
            return (0, 0)
        return inode, offset


def apply_to_chroma(
    collection: Any,
    records: list[dict[str, Any]],
    embed: Callable[[list[str]], Any],
    batch: int,
    problems: list[str],
) -> dict[str, Memory | None]:
    """Make `collection` reflect `records` (idempotent); returns their net effect by id."""
    state = replay(records, problems)
    puts = {id: m for id, m in state.items() if m is not None}
    gone = [id for id, m in state.items() if m is None]
    ids = list(puts)
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        found = collection.get(ids=chunk, include=["documents", "metadatas"])
        have = {id: _stored(doc, meta or {}) for id, doc, meta in zip(found["ids"], found["documents"], found["metadatas"])}
        stale = [puts[id] for id in chunk if have.get(id) != _fingerprint(puts[id])]
        if stale:
            collection.upsert(
                ids=[m.id for m in stale],
                embeddings=embed([embedding_text(m) for m in stale]),
                metadatas=[backend.encode(m) for m in stale],
            )
    for start in range(0, len(gone), batch):
        present = collection.get(ids=gone[start : start + batch], include=[])["ids"]
        if present:
            collection.delete(ids=present)
    return state


def _stored(document: str | None, meta: dict[str, Any]) -> tuple[Any, ...]:
    keys = (backend.KIND, backend.SESSION, backend.CREATED_ISO, backend.META)
    return (backend.stored_text(document, meta), *(meta.get(key) for key in keys))


def _fingerprint(memory: Memory) -> tuple[Any, ...]:
    return _stored(memory.text, backend.encode(memory))
