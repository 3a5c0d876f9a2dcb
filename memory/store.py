"""`MemoryStore`: long-term memory on ChromaDB, embedded on disk or on a Chroma server.

    store = MemoryStore("./mem", namespace="alice")           # embedded (PersistentClient)
    store = MemoryStore(url="http://127.0.0.1:8000")          # server (`chroma run`)
    store.add(Memory("Alice prefers short sentences", kind="fact"))
    store.search("how does Alice like her prose?", k=5)       # [Hit(memory=..., score=0.83, ...)]

Each namespace is its own Chroma collection, so one namespace's search cannot see another's
memories (and a namespace "filter" costs nothing). Embeddings come from our embedder, never
from Chroma. Search is hybrid (see `memory.retrieval`): vector and BM25 over an in-memory
mirror of the namespace, with time, speaker and neighbouring-turn signals.

Embedded mode (see `memory.embedded`): every operation holds `<path>/.lock`; every write is
appended to the namespace's journal and fsync'd before Chroma sees it and before it is
acknowledged; the mirror follows the journal, so other processes' writes are seen.
Server mode: the mirror is loaded from the server and refreshed from a `tl.written` change feed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from memory import chroma_backend as backend
from memory import searching
from memory.embedded import EmbeddedLog, apply_to_chroma, register_namespace
from memory.embeddings import Embedder, default_embedder
from memory.journal import del_record, put_record, replay
from memory.jsonl import Target, read_jsonl, write_jsonl
from memory.mirror import Mirror, embedding_text, strip_names
from memory.records import KINDS, Hit, Memory, StoreStats, as_utc, check_kind
from memory.retrieval import DEFAULT_WEIGHTS, Weights, hybrid_rank, named_speakers

LOCK_TIMEOUT_S = 10.0
PAGE_SIZE = 256
IMPORT_CHUNK = 1024
SERVER_PAGE = 2000
REFRESH_S = 1.0


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
        self._mirror: Mirror | None = None
        self._refreshed = 0.0  # server mode: wall-clock time of the last change-feed read
        self._refresh_clock = 0.0
        self._log: EmbeddedLog | None = None
        self._thread_lock = threading.RLock()
        if self.path is not None:
            backend.prepare_dir(self.path)
            timeout = LOCK_TIMEOUT_S if lock_timeout is None else lock_timeout
            self._log = EmbeddedLog(self.path, namespace, timeout)
            with self._log.locked():
                self._client_obj = backend.open_persistent(self.path)
                self._open_journal()
        else:
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
        memories = [self._own(memory) for memory in memories]
        latest = list({memory.id: memory for memory in memories}.values())  # the last of a repeated id wins
        batch = self._batch_size()
        for start in range(0, len(latest), batch):
            chunk = latest[start : start + batch]
            vectors = self._embed([embedding_text(m) for m in chunk])  # outside the lock: the slow part
            with self._exclusive():
                self._catch_up()
                if self._log is not None:
                    end = self._log.journal.append([put_record(m) for m in chunk])
                with backend.translate_errors(self._where):
                    self._collection(create=True).upsert(
                        ids=[m.id for m in chunk],
                        embeddings=vectors,
                        documents=[m.text for m in chunk],
                        metadatas=[backend.encode(m) for m in chunk],
                    )
                if self._mirror is not None:
                    for memory in chunk:
                        self._mirror.put(memory)
                if self._log is not None:
                    self._log.advance(end)
        return [memory.id for memory in memories]

    def delete(self, ids: Iterable[str]) -> int:
        """Forget the memories with these ids everywhere they are indexed; returns how many there were."""
        ids = [ids] if isinstance(ids, str) else list(dict.fromkeys(ids))
        if not ids:
            return 0
        with self._exclusive():
            self._catch_up()
            with backend.translate_errors(self._where):
                collection = self._collection(create=False)
                if collection is None:
                    return 0
                present = collection.get(ids=ids, include=[])["ids"]
                if not present:
                    return 0
                if self._log is not None:
                    end = self._log.journal.append([del_record(present)])
                collection.delete(ids=present)
            if self._mirror is not None:
                for id in present:
                    self._mirror.delete(id)
            if self._log is not None:
                self._log.advance(end)
        return len(present)

    def forget(self, id: str) -> bool:
        """Forget one memory everywhere (Chroma, journal, lexical index); False if there was none."""
        return self.delete([id]) == 1

    def import_jsonl(self, source: Target) -> int:
        """Add the memories of a JSON Lines export (path or text file) to this namespace.

        Ids are kept, so importing the same file twice changes nothing. The records' own
        namespace is ignored: they land in this store's namespace."""
        imported = 0
        chunk: list[Memory] = []
        for memory in read_jsonl(source):
            chunk.append(dataclasses.replace(memory, namespace=None))
            if len(chunk) >= IMPORT_CHUNK:
                imported += len(self.add_many(chunk))
                chunk = []
        if chunk:
            imported += len(self.add_many(chunk))
        return imported

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
        with self._shared():
            self._catch_up()
            collection = self._collection(create=False)
            if collection is None:
                return []
            if mode == "vector":
                return searching.vector_hits(collection, self._embed([query]), k, chroma_where, self.namespace, self._where)
            mirror = self._ensure_mirror()
            vector = self._embed([strip_names(query, named_speakers(query, mirror))])
            rows = searching.mask(mirror, collection, filters, self._where)
            if not rows.any():
                return []

            def vector_search(start, end, n):
                bounded = dict(filters, since=_later(since, start), until=_earlier(until, end))
                return searching.vector_rows(collection, mirror, vector, n, backend.build_where(**bounded), self._where)

            now = as_utc(now) if now is not None else datetime.now(timezone.utc)
            ranked = hybrid_rank(mirror, query, k, rows, vector_search, now, self.weights)
            return searching.hits(collection, mirror, ranked, vector, self.namespace, self._log is None, self._where)

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
        by_namespace: dict[str, int] = {}
        with self._shared(), backend.translate_errors(self._where):
            for collection in self._client.list_collections():
                name = (collection.metadata or {}).get(backend.NAMESPACE_KEY)
                if name is not None:
                    by_namespace[name] = self._client.get_collection(collection.name, embedding_function=None).count()
        size = journal = None
        if self.path is not None:
            size = _dir_size(self.path)
            journal = _dir_size(self.path / "journal") if (self.path / "journal").exists() else 0
        return StoreStats(
            namespace=self.namespace,
            count=sum(by_kind.values()),
            by_kind=by_kind,
            size_bytes=size,
            by_namespace=dict(sorted(by_namespace.items())),
            journal_bytes=journal,
        )

    def namespaces(self) -> list[str]:
        """Every namespace this path or server holds memories for (sorted)."""
        with self._shared(), backend.translate_errors(self._where):
            collections = self._client.list_collections()
        key = backend.NAMESPACE_KEY
        return sorted({c.metadata[key] for c in collections if c.metadata and key in c.metadata})

    # -- lifecycle -----------------------------------------------------------------------------

    def warm(self) -> None:
        """Build the in-memory search index now instead of on the first search (about 1 s per
        10k memories on 2 cores); safe to call from a background thread at startup."""
        with self._shared():
            self._catch_up()
            if self._collection(create=False) is not None:
                self._ensure_mirror()

    def close(self) -> None:
        """Release the client (and, for the last store on a path, Chroma's files). Idempotent."""
        client, self._client_obj, self._collection_obj = self._client_obj, None, None
        self._mirror = None
        if self._log is not None and client is not None:
            self._log.checkpoint()
        if client is not None:
            client.close()

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals: keeping Chroma, journal and mirror in step ---------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One operation at a time: across threads (the mirror is shared) and, in embedded mode,
        across processes (the file lock)."""
        with self._thread_lock, (self._log.locked() if self._log is not None else contextlib.nullcontext()):
            yield

    _shared = _exclusive  # embedded Chroma is not safe for concurrent readers either

    def _open_journal(self) -> None:
        """At open (under the lock): adopt a pre-journal store, then replay what Chroma lacks."""
        log = self._log
        with backend.translate_errors(self._where):
            collection = self._collection(create=False)
            if not log.journal.exists():
                if collection is not None and collection.count():
                    log.journal.append(put_record(m) for m in self._chroma_all(collection))
                    log.inode, log.offset = 0, 0  # fall through: verifies what was just adopted
            if log.journal.exists() or collection is not None:
                register_namespace(self.path, self.namespace)
            if log.journal.exists() and collection is None:
                log.inode, log.offset = 0, 0  # Chroma lost the collection: replay everything
            self._catch_up()

    def _catch_up(self) -> None:
        """Apply journal records this process has not seen (another process's, or a crash's)."""
        log = self._log
        if log is None:
            self._refresh_from_server()
            return
        if not log.changed():
            return
        tail, rewritten = log.read_new()
        if tail.records:
            with backend.translate_errors(self._where):
                collection = self._collection(create=True)
                state = apply_to_chroma(collection, tail.records, self._embed, self._batch_size(), log.problems)
        else:
            state = {}
        if self._mirror is not None:
            if rewritten:
                self._mirror = None  # rebuilt from the whole journal on next use
            else:
                for id, memory in state.items():
                    self._mirror.put(memory) if memory is not None else self._mirror.delete(id)
        log.advance(tail.end)

    def _ensure_mirror(self) -> Mirror:
        if self._mirror is None:
            if self._log is not None:
                state = replay(self._log.journal.read(0).records, self._log.problems)
                self._mirror = Mirror(m for m in state.values() if m is not None)
                collection = self._collection(create=False)
                with backend.translate_errors(self._where):
                    stored = collection.count() if collection is not None else 0
                if stored != len(self._mirror):
                    self._reconcile(state)
            else:
                self._mirror = Mirror(self._chroma_all(self._collection(create=False), page=SERVER_PAGE))
                self._refreshed = time.time()
        return self._mirror

    def _reconcile(self, state: dict[str, Memory | None]) -> None:
        """Chroma and the journal disagree on the count (a crash, an old store, a manual edit):
        put every journal memory into Chroma where missing and journal every Chroma memory the
        journal lacks. Under the lock."""
        with backend.translate_errors(self._where):
            collection = self._collection(create=True)
            records = [put_record(m) for m in state.values() if m is not None]
            apply_to_chroma(collection, records, self._embed, self._batch_size(), self._log.problems)
            extra = [m for m in self._chroma_all(collection) if m.id not in state or state[m.id] is None]
        if extra:
            self._log.advance(self._log.journal.append(put_record(m) for m in extra))
            for memory in extra:
                self._mirror.put(memory)

    def _refresh_from_server(self) -> None:
        """Server mode: fold other clients' recent writes into the mirror, at most once a second."""
        if self._mirror is None or time.monotonic() - self._refresh_clock < REFRESH_S:
            return
        self._refresh_clock = time.monotonic()
        since = self._refreshed - 30.0  # margin for clock skew between clients
        collection = self._collection(create=False)
        if collection is None:
            return
        with backend.translate_errors(self._where):
            found = collection.get(where={backend.WRITTEN: {"$gte": since}}, include=["documents", "metadatas"])
        self._refreshed = time.time()
        for id, text, meta in zip(found["ids"], found["documents"], found["metadatas"]):
            memory = backend.decode(id, text, meta, self.namespace)
            memory = dataclasses.replace(memory, namespace=None)
            if self._mirror.get(id) != memory:
                self._mirror.put(memory)

    def _chroma_all(self, collection: Any, page: int = PAGE_SIZE) -> Iterator[Memory]:
        offset = 0
        while collection is not None:
            with backend.translate_errors(self._where):
                found = collection.get(limit=page, offset=offset, include=["documents", "metadatas"])
            for id, text, meta in zip(found["ids"], found["documents"], found["metadatas"]):
                yield dataclasses.replace(backend.decode(id, text, meta, self.namespace), namespace=None)
            if len(found["ids"]) < page:
                return
            offset += page

    # -- internals: plumbing -------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        if self._client_obj is None:
            raise ValueError(f"{self!r} is closed")
        return self._client_obj

    def _collection(self, *, create: bool) -> Any:
        """This namespace's collection; None when `create` is false and it does not exist yet."""
        if self._collection_obj is None:
            from chromadb.errors import NotFoundError

            name = backend.collection_name(self.namespace)
            with backend.translate_errors(self._where):
                try:
                    if create:
                        self._collection_obj = self._client.get_or_create_collection(
                            name,
                            configuration={"hnsw": {"space": "cosine"}},
                            metadata={backend.NAMESPACE_KEY: self.namespace},
                            embedding_function=None,
                        )
                        if self.path is not None:
                            register_namespace(self.path, self.namespace)
                    else:
                        self._collection_obj = self._client.get_collection(name, embedding_function=None)
                except NotFoundError:
                    return None
        return self._collection_obj

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


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(as_utc(a), as_utc(b))


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(as_utc(a), as_utc(b))


def _dir_size(path: Path) -> int:
    """Bytes under `path`; files Chroma removes while we walk are skipped."""
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += (Path(root) / name).stat().st_size
    return total
