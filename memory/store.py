"""`MemoryStore`: long-term memory on ChromaDB, embedded on disk or on a Chroma server.

    store = MemoryStore("./mem", namespace="alice")           # embedded (PersistentClient)
    store = MemoryStore(url="http://127.0.0.1:8000")          # server (`chroma run`)
    store.add(Memory("Alice prefers short sentences", kind="fact"))
    store.search("how does Alice like her prose?", k=5)       # [Hit(memory=..., score=0.83, ...)]

Each namespace is its own Chroma collection, so one namespace's search cannot see another's
memories (and a namespace "filter" costs nothing). Embeddings come from our embedder, never
from Chroma. Search is hybrid (see `memory.retrieval`): vector and BM25 over an in-memory
mirror of the namespace, with time, speaker and neighbouring-turn signals.

This module is the public face; the work is done by:

    memory.embedded_sync   embedded mode: every operation holds `<path>/.lock`; every write is
                           journalled (fsync'd) before Chroma sees it and before it is
                           acknowledged; the mirror follows the journal, so other processes'
                           writes are seen
    memory.server_sync     server mode: the mirror is loaded from the server and refreshed from
                           a `tl.written` change feed
    memory.writing         one write: journal, Chroma, mirror, in that order
    memory.searching       the search itself
    memory.transfer        import, counts and sizes
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import weakref
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from memory import chroma_backend as backend
from memory import crash_recovery, disk, searching, transfer, writing
from memory.embedded import EmbeddedLog, register_namespace
from memory.embedded_sync import EmbeddedSync
from memory.embeddings import Embedder, default_embedder
from memory.errors import MemoryStoreError, StoreUnavailable
from memory.jsonl import MAX_TEXT_CHARS, Target, write_jsonl
from memory.mirror import Mirror, embedding_text
from memory.records import KINDS, Hit, Memory, StoreStats, as_utc, check_kind
from memory.retrieval import DEFAULT_WEIGHTS, Weights
from memory.server_sync import ServerSync

LOCK_TIMEOUT_S = 10.0
PAGE_SIZE = 256
EMBED_MISSING = 16  # rows without a copied vector that a search embeds itself, rather than ask Chroma
EXACT_MAX_ROWS = 200_000  # above this, Chroma's approximate index ranks faster than the copy's exact scan
log = logging.getLogger(__name__)


class MemoryStore:
    """Memories of one namespace: add, search, get, forget, count, export and import."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        url: str | None = None,
        namespace: str = "default",
        embedder: Embedder | None = None,
        lock_timeout: float | None = None,
        weights: Weights = DEFAULT_WEIGHTS,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("MemoryStore needs exactly one of path (embedded store) or url (Chroma server)")
        if not isinstance(namespace, str) or not namespace:
            raise ValueError(f"namespace must be a non-empty str, got {namespace!r}")
        self.namespace = namespace
        self.embedder: Embedder = embedder if embedder is not None else default_embedder()
        self.path = Path(path).expanduser().resolve() if path is not None else None
        self.url = url
        self.weights = weights
        self._where = str(self.path) if self.path is not None else str(url)
        self._collection_obj: Any = None
        self._max_batch: int | None = None
        self._log: EmbeddedLog | None = None
        self._thread_lock = threading.RLock()
        self._sync: EmbeddedSync | ServerSync
        self._marker: Path | None = None
        self._index_load: threading.Thread | None = None
        self._index_read = threading.Lock()
        self.recovered: str | None = None
        """What was repaired at open, when a process had died with this store open (else None)."""
        self.read_only = False
        """True when the data dir is on a read-only disk: a temporary copy is searched and exported."""
        if self.path is not None:
            if self.path.is_dir() and not disk.writable(self.path):
                self.path, self.read_only = disk.read_only_copy(self.path), True
            backend.prepare_dir(self.path)
            timeout = LOCK_TIMEOUT_S if lock_timeout is None else lock_timeout
            self.recovered = crash_recovery.recover_after_crash(self.path, self.embedder, timeout)
            self._log = EmbeddedLog(self.path, namespace, timeout)
            self._sync = EmbeddedSync(
                self._log, self.path, namespace, self._where, self._open_collection, self._embed, self._batch_size
            )
            self._sync.prefetch()
            import chromadb  # noqa: F401  (seconds on a busy machine: not while holding the lock others wait on)

            with self._log.locked():  # two processes creating a fresh dir at once race in Chroma's migration
                self._marker = crash_recovery.mark_open(self.path)
                self._closing = weakref.finalize(self, crash_recovery.mark_closed, self._marker)
                self._client_obj = backend.open_persistent(self.path)
                self._sync.open()
            if self._collection_obj is not None:
                self._index_load = threading.Thread(target=self._prepare_search, name="throughline-search-index",
                                                    daemon=True)
                self._index_load.start()
        else:
            self._sync = ServerSync(namespace, self._where, self._open_collection)
            self._client_obj = backend.open_http(url)

    def __repr__(self) -> str:
        place = f"path={str(self.path)!r}" if self.path is not None else f"url={self.url!r}"
        return f"MemoryStore({place}, namespace={self.namespace!r})"

    # -- writing -------------------------------------------------------------------------------

    def add(self, memory: Memory) -> str:
        """Store `memory` (replacing any memory with its id); returns its id once it is durable."""
        return self.add_many([memory])[0]

    def add_many(self, memories: Iterable[Memory]) -> list[str]:
        """Store `memories` in batches; returns their ids in order once all are durable."""
        self._check_writable()
        memories = [self._own(memory) for memory in memories]
        latest = list({memory.id: memory for memory in memories}.values())  # the last of a repeated id wins
        batch = self._batch_size()
        for start in range(0, len(latest), batch):
            chunk = latest[start : start + batch]
            vectors = self._embed([embedding_text(m) for m in chunk])  # outside the lock: the slow part
            with self._exclusive():
                self._sync.catch_up()
                if isinstance(self._sync, EmbeddedSync):
                    self._sync.check()  # a write has Chroma read its vector index anyway: compare counts now
                writing.put(self._sync, lambda: self._collection(create=True), chunk, vectors, self._where)
        return [memory.id for memory in memories]

    def delete(self, ids: Iterable[str]) -> int:
        """Forget the memories with these ids everywhere they are indexed; returns how many there were."""
        self._check_writable()
        ids = [ids] if isinstance(ids, str) else list(dict.fromkeys(ids))
        if not ids:
            return 0
        with self._exclusive():
            self._sync.catch_up()
            return writing.delete(self._sync, self._collection(create=False), ids, self._where)

    def forget(self, id: str) -> bool:
        """Forget one memory everywhere (Chroma, journal, lexical index); False if there was none."""
        return self.delete([id]) == 1

    def import_jsonl(self, source: Target, *, max_chars: int = MAX_TEXT_CHARS) -> int:
        """Add the memories of a JSON Lines export (path, text or binary file) to this namespace.

        All or nothing on bad input: the whole file is checked first and one bad line (names
        in `ImportFileError`) imports nothing. Ids are kept (a record without one gets an id
        derived from its content), so importing the same file twice changes nothing. The
        records' own namespace is ignored: they land in this store's namespace."""
        return transfer.import_jsonl(self.add_many, source, max_chars)

    # -- reading -------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        kind: str | list[str] | None = None,
        session: str | None = None,
        where: dict[str, Any] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        now: datetime | None = None,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """The `k` memories most relevant to `query`, best first, optionally filtered.

        `kind` is one kind or a list of them; `where` filters on metadata keys with Chroma's
        operators (`{"source": "chat"}`, `{"n": {"$gte": 2}}`, `{"$or": [...]}`); `since` and
        `until` bound `created_at` (since inclusive, until exclusive). `now` (default: the
        clock) anchors time words in the query ("last week", "in May"), which boost memories
        from that time. `mode="vector"` is plain cosine top-k (the old behaviour)."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative int, got {k!r}")
        if mode not in ("hybrid", "vector"):
            raise ValueError(f"mode must be 'hybrid' or 'vector', got {mode!r}")
        filters = dict(kind=kind, session=session, since=since, until=until, where=where)
        chroma_where = backend.build_where(**filters)
        if k == 0:
            return []
        now = as_utc(now) if now is not None else datetime.now(timezone.utc)
        if mode == "hybrid" and where is None:
            with self._thread_lock:
                copy = self._copy_as_is()
                if copy is not None:  # nothing to catch up with: neither Chroma nor the file lock is needed
                    return self._search_copy(copy, query, k, filters, now)
        with self._shared():
            self._sync.catch_up()
            collection = self._collection(create=False)
            if collection is None:
                return []
            if mode == "vector":
                return searching.vector_hits(collection, self._embed([query]), k, chroma_where, self.namespace, self._where)
            copy = self._searchable_copy() if where is None else None
            if copy is not None:  # exact, and Chroma need not read its vector index
                return self._search_copy(copy, query, k, filters, now)
            return searching.hybrid_search(
                collection, self._mirror(), query, k, filters, now, self._embed, self.weights,
                self.namespace, server=self._log is None, place=self._where,
            )

    def get(self, id: str) -> Memory | None:
        """The memory with this id, or None."""
        with self._shared():
            collection = self._collection(create=False)
            if collection is None:
                return None
            with backend.translate_errors(self._where):
                found = collection.get(ids=[id], include=["documents", "metadatas"])
        if not found["ids"]:
            return None
        return backend.decode(found["ids"][0], found["documents"][0], found["metadatas"][0], self.namespace)

    def count(self, kind: str | None = None) -> int:
        """How many memories this namespace holds (of one kind, if given)."""
        if kind is not None:
            check_kind(kind)
        with self._shared():
            collection = self._collection(create=False)
            if collection is None:
                return 0
            with backend.translate_errors(self._where):
                if kind is None:
                    return collection.count()
                return len(collection.get(where=backend.build_where(kind=kind), include=[])["ids"])

    def all(self, kind: str | None = None) -> Iterator[Memory]:
        """Every memory of this namespace (of one kind, if given), fetched a page at a time."""
        where = backend.build_where(kind=kind)
        offset = 0
        while True:
            with self._shared():
                collection = self._collection(create=False)
                if collection is None:
                    return
                with backend.translate_errors(self._where):
                    page = collection.get(where=where, limit=PAGE_SIZE, offset=offset, include=["documents", "metadatas"])
            for id, text, meta in zip(page["ids"], page["documents"], page["metadatas"]):
                yield backend.decode(id, text, meta, self.namespace)
            if len(page["ids"]) < PAGE_SIZE:
                return
            offset += PAGE_SIZE

    def export_jsonl(self, target: Target) -> int:
        """Write every memory of this namespace as JSON Lines (path or text file); returns the count."""
        return write_jsonl(self.all(), target)

    def stats(self) -> StoreStats:
        """Counts by kind and by namespace; in embedded mode the data dir's and journals' size on disk."""
        by_kind = {kind: self.count(kind) for kind in KINDS}
        with self._shared(), backend.translate_errors(self._where):
            by_namespace = transfer.namespace_counts(self._client)
        size, journal = transfer.disk_usage(self.path)
        return StoreStats(
            namespace=self.namespace,
            count=sum(by_kind.values()),
            by_kind=by_kind,
            size_bytes=size,
            by_namespace=by_namespace,
            journal_bytes=journal,
        )

    def namespaces(self) -> list[str]:
        """Every namespace this path or server holds memories for (sorted)."""
        with self._shared(), backend.translate_errors(self._where):
            return transfer.namespaces(self._client)

    # -- lifecycle -----------------------------------------------------------------------------

    def warm(self) -> None:
        """Do now what the first search and write would otherwise pay for: load (or build) the
        mirror and BM25 index, have Chroma read its vector index (writes need it) and load the
        embedder. Safe to call from a background thread at start-up (the TUI and `assistant ask`
        do, while the model loads). Chroma's read holds only the file lock, so a search over the
        mirror's copy of the vectors runs beside it; the embedder loads outside every lock."""
        with self._shared():
            self._sync.catch_up()
            if self._collection(create=False) is None:
                return
            mirror = self._sync.ensure_mirror(check=False) if isinstance(self._sync, EmbeddedSync) else self._mirror()
            mirror.lexical.build()
            if isinstance(self._sync, EmbeddedSync):
                self._sync.save_snapshot()  # the next process opens it instead of rebuilding
        if isinstance(self._sync, EmbeddedSync):
            self._read_vector_index()
            with self._shared():
                self._sync.check()  # the count against Chroma's, cheap now
        self._embed(["warm up the search"])

    def close(self) -> None:
        """Release the client (and, for the last store on a path, Chroma's files). Idempotent."""
        if self._index_load is not None:
            self._index_load.join()  # Chroma's client must outlive the load it is doing
        with self._index_read:  # and a read of its vector index by warm(), which holds no thread lock
            if isinstance(self._sync, EmbeddedSync) and self._client_obj is not None:
                with self._thread_lock:
                    self._sync.save_snapshot()
            client, self._client_obj, self._collection_obj = self._client_obj, None, None
        self._sync.mirror = None
        if self._log is not None and client is not None:
            self._log.checkpoint()
        if client is not None:
            client.close()
        if self._marker is not None:
            self._closing()  # this process no longer holds the store open
        if self.read_only and client is not None:
            disk.remove_copy(self.path)

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One operation at a time: across threads (the mirror is shared) and, in embedded mode,
        across processes (the file lock)."""
        with self._thread_lock, (self._log.locked() if self._log is not None else contextlib.nullcontext()):
            yield

    _shared = _exclusive  # embedded Chroma is not safe for concurrent readers either

    def _prepare_search(self) -> None:
        """What the first search would pay, started at open in a thread so it overlaps what the
        caller does next (loading the embedder or a chat model, fitting the router): the mirror
        from its snapshot and, when searches cannot rank over its copy of the vectors, Chroma's
        vector index (HNSW), which Chroma reads whole on a collection's first use: ~0.3-2 s at
        100k memories on 2 shared cores. With the copy, reading never needs that index and it is
        left to `warm()` or the first write: read at open, it took the CPU from the caller's
        first search (2-4x a warm search at 100k, against 1.1-1.4x without it). A failure is
        left for the next operation, which meets it again and reports it."""
        try:
            with self._exclusive(), backend.translate_errors(self._where):
                if self._client_obj is None or self._collection_obj is None:
                    return
                self._sync.catch_up()
                if self._searchable_copy() is None:
                    self._mirror()
        except MemoryStoreError as exc:
            log.info("preparing the search of %s in the background failed (%s)", self._where, exc)

    def _searchable_copy(self) -> Mirror | None:
        """The mirror when a search can rank over its copy of the vectors (`memory.vector_copy`):
        embedded mode, up to EXACT_MAX_ROWS rows, every live row with a vector (the few without
        one embedded here); else None: the search asks Chroma. Under the lock, caught up."""
        if not isinstance(self._sync, EmbeddedSync):
            return None
        mirror = self._sync.ensure_mirror(check=False)
        if mirror.size > EXACT_MAX_ROWS:
            return None
        missing = mirror.vectors.missing(mirror.alive)
        if len(missing) > EMBED_MISSING:
            return None
        if missing:
            for row, vector in zip(missing, self._embed([embedding_text(mirror.rows[row]) for row in missing])):
                mirror.vectors.set(row, vector)
        return mirror

    def _copy_as_is(self) -> Mirror | None:
        """`_searchable_copy` when the journal has nothing new for this process (one stat) and the
        collection is open: such a search reads only this process's mirror and the journal's
        files, which writers only append to or replace, so it needs no file lock and runs beside
        Chroma reading its index for `warm()`."""
        if self._log is None or self._collection_obj is None or self._log.changed():
            return None
        return self._searchable_copy()

    def _search_copy(self, mirror: Mirror, query: str, k: int, filters: dict[str, Any], now: datetime) -> list[Hit]:
        """Exact: every row's cosine from the copy; Chroma is not asked."""
        return searching.hybrid_search(None, mirror, query, k, filters, now, self._embed, self.weights, self.namespace,
                                       server=False, place=self._where, copy=mirror.vectors)

    def _read_vector_index(self) -> None:
        """Have Chroma read this collection's vector index (HNSW), holding the file lock (no other
        process writes meanwhile) but not the thread lock: searches over the copy go on beside
        it. `get` reads it outside the interpreter lock (`count` held it: 246 ms of 262 at 100k)."""
        if self._log is None:
            return
        with self._index_read, self._log.locked(), backend.translate_errors(self._where):
            if self._client_obj is not None and self._collection_obj is not None:
                self._collection_obj.get(limit=1, include=[])

    def _mirror(self) -> Mirror:
        return self._sync.ensure_mirror()

    @property
    def _client(self) -> Any:
        if self._client_obj is None:
            raise ValueError(f"{self!r} is closed")
        return self._client_obj

    def _open_collection(self, create: bool) -> Any:
        return self._collection(create=create)

    def _collection(self, *, create: bool) -> Any:
        """This namespace's collection; None when `create` is false and it does not exist yet."""
        if self._collection_obj is None:
            self._collection_obj = backend.open_collection(self._client, self.namespace, create, self._where)
            if create and self.path is not None:
                register_namespace(self.path, self.namespace)
        return self._collection_obj

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreUnavailable(
                f"the memory store {self._where} is on a read-only disk: it can be searched and exported "
                "(`assistant memory export FILE`), not written; make it writable or pick another --data-dir"
            )

    def _own(self, memory: Memory) -> Memory:
        if not isinstance(memory, Memory):
            raise TypeError(f"expected a Memory, got {type(memory).__name__}")
        if memory.namespace not in (None, self.namespace):
            raise ValueError(
                f"memory {memory.id} belongs to namespace {memory.namespace!r}, not {self.namespace!r}; "
                "use dataclasses.replace(memory, namespace=None) to copy it here"
            )
        return dataclasses.replace(memory, namespace=None) if memory.namespace else memory

    def _embed(self, texts: list[str]) -> Any:
        vectors = self.embedder.embed(texts)
        if len(vectors) != len(texts):
            raise ValueError(f"the embedder returned {len(vectors)} vectors for {len(texts)} texts")
        return vectors

    def _batch_size(self) -> int:
        if self._max_batch is None:
            with backend.translate_errors(self._where):
                self._max_batch = max(1, int(self._client.get_max_batch_size()))
        return self._max_batch
