"""`MemoryStore`: long-term memory on ChromaDB, embedded on disk or on a Chroma server.

    store = MemoryStore("./mem", namespace="alice")           # embedded (PersistentClient)
    store = MemoryStore(url="http://127.0.0.1:8000")          # server (`chroma run`)
    store.add(Memory("Alice prefers short sentences", kind="fact"))
    store.search("how does Alice like her prose?", k=5)       # [Hit(memory=..., score=0.83)]

Each namespace is its own Chroma collection, so one namespace's search cannot see another's
memories. Embeddings come from our embedder, never from Chroma. In embedded mode every write
holds `<path>/.lock`, so processes sharing a dir take turns instead of corrupting it, and each
sees the others' writes; a process that waits more than a few seconds gets `StoreBusy`. Many
busy processes should share a Chroma server instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from memory import chroma_backend as backend
from memory.embeddings import Embedder, default_embedder
from memory.errors import StoreBusy
from memory.jsonl import Target, read_jsonl, write_jsonl
from memory.records import KINDS, Hit, Memory, StoreStats, check_kind

LOCK_TIMEOUT_S = 5.0
PAGE_SIZE = 256
IMPORT_CHUNK = 256


class MemoryStore:
    """Memories of one namespace: add, search, get, forget, count, export and import."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        url: str | None = None,
        namespace: str = "default",
        embedder: Embedder | None = None,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("MemoryStore needs exactly one of path (embedded store) or url (Chroma server)")
        if not isinstance(namespace, str) or not namespace:
            raise ValueError(f"namespace must be a non-empty str, got {namespace!r}")
        self.namespace = namespace
        self.embedder: Embedder = embedder if embedder is not None else default_embedder()
        self.path = Path(path).expanduser().resolve() if path is not None else None
        self.url = url
        self._where = str(self.path) if self.path is not None else str(url)
        if self.path is not None:
            self._client_obj = backend.open_persistent(self.path)
        else:
            self._client_obj = backend.open_http(url)
        self._lock: Any = None
        self._collection_obj: Any = None
        self._max_batch: int | None = None

    def __repr__(self) -> str:
        place = f"path={str(self.path)!r}" if self.path is not None else f"url={self.url!r}"
        return f"MemoryStore({place}, namespace={self.namespace!r})"

    # -- writing -------------------------------------------------------------------------------

    def add(self, memory: Memory) -> str:
        """Store `memory` (replacing any memory with its id); returns its id."""
        return self.add_many([memory])[0]

    def add_many(self, memories: Iterable[Memory]) -> list[str]:
        """Store `memories` in batches the backend accepts; returns their ids in order."""
        memories = [self._own(memory) for memory in memories]
        latest = list({memory.id: memory for memory in memories}.values())  # the last of a repeated id wins
        if not latest:
            return []
        batch = self._batch_size()
        for start in range(0, len(latest), batch):
            chunk = latest[start : start + batch]
            vectors = self._embed([memory.text for memory in chunk])
            with self._write_lock(), backend.translate_errors(self._where):
                self._collection(create=True).upsert(
                    ids=[memory.id for memory in chunk],
                    embeddings=vectors,
                    documents=[memory.text for memory in chunk],
                    metadatas=[backend.encode(memory) for memory in chunk],
                )
        return [memory.id for memory in memories]

    def delete(self, ids: Iterable[str]) -> int:
        """Forget the memories with these ids; returns how many there were."""
        ids = [ids] if isinstance(ids, str) else list(dict.fromkeys(ids))
        if not ids:
            return 0
        with self._write_lock(), backend.translate_errors(self._where):
            collection = self._collection(create=False)
            if collection is None:
                return 0
            present = collection.get(ids=ids, include=[])["ids"]
            if present:
                collection.delete(ids=present)
        return len(present)

    def forget(self, id: str) -> bool:
        """Forget one memory; False if there was none with that id."""
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
    ) -> list[Hit]:
        """The `k` memories closest to `query`, best first, optionally filtered.

        `kind` is one kind or a list of them; `where` filters on metadata keys with Chroma's
        operators (`{"source": "chat"}`, `{"n": {"$gte": 2}}`, `{"$or": [...]}`); `since` and
        `until` bound `created_at` (since inclusive, until exclusive)."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative int, got {k!r}")
        chroma_where = backend.build_where(kind=kind, session=session, since=since, until=until, where=where)
        collection = self._collection(create=False)
        if k == 0 or collection is None:
            return []
        vector = self._embed([query])
        with backend.translate_errors(self._where):
            found = collection.query(
                query_embeddings=vector,
                n_results=k,
                where=chroma_where,
                include=["documents", "metadatas", "distances"],
            )
        rows = zip(found["ids"][0], found["documents"][0], found["metadatas"][0], found["distances"][0])
        return [
            Hit(backend.decode(id, text, meta, self.namespace), max(-1.0, min(1.0, 1.0 - float(distance))))
            for id, text, meta, distance in rows
        ]

    def get(self, id: str) -> Memory | None:
        """The memory with this id, or None."""
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
        collection = self._collection(create=False)
        if collection is None:
            return
        offset = 0
        while True:
            with backend.translate_errors(self._where):
                page = collection.get(
                    where=where, limit=PAGE_SIZE, offset=offset, include=["documents", "metadatas"]
                )
            for id, text, meta in zip(page["ids"], page["documents"], page["metadatas"]):
                yield backend.decode(id, text, meta, self.namespace)
            if len(page["ids"]) < PAGE_SIZE:
                return
            offset += PAGE_SIZE

    def export_jsonl(self, target: Target) -> int:
        """Write every memory of this namespace as JSON Lines (path or text file); returns the count."""
        return write_jsonl(self.all(), target)

    def stats(self) -> StoreStats:
        """Counts by kind and, in embedded mode, the store's size on disk."""
        by_kind = {kind: self.count(kind) for kind in KINDS}
        size = _dir_size(self.path) if self.path is not None else None
        return StoreStats(namespace=self.namespace, count=self.count(), by_kind=by_kind, size_bytes=size)

    def namespaces(self) -> list[str]:
        """Every namespace this path or server holds memories for (sorted)."""
        with backend.translate_errors(self._where):
            collections = self._client.list_collections()
        key = backend.NAMESPACE_KEY
        return sorted({c.metadata[key] for c in collections if c.metadata and key in c.metadata})

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the client (and, for the last store on a path, Chroma's files). Idempotent."""
        client, self._client_obj, self._collection_obj = self._client_obj, None, None
        if client is not None:
            client.close()

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

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
        return memory

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

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """In embedded mode, `<path>/.lock` for the duration of one write."""
        if self.path is None:
            yield
            return
        from filelock import FileLock, Timeout

        if self._lock is None:
            self._lock = FileLock(self.path / ".lock")
        try:
            self._lock.acquire(timeout=LOCK_TIMEOUT_S)
        except Timeout as exc:
            raise StoreBusy(
                f"another process has held the memory store {self.path} for over {LOCK_TIMEOUT_S:g} s; "
                "share memory between processes with a Chroma server (--memory-url)"
            ) from exc
        try:
            yield
        finally:
            self._lock.release()


def _dir_size(path: Path) -> int:
    """Bytes under `path`; files Chroma removes while we walk are skipped."""
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += (Path(root) / name).stat().st_size
    return total
