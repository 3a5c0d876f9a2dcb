"""Working memory on the Chroma server, so a thread can move between `assistant serve` replicas.

Replicas already share long-term memory through one Chroma server; keeping session records
there too needs no second service. One collection, `throughline_sessions`, holds one record per
(user, session): the same JSON the file store writes, as metadata, with a 1-dimensional dummy
vector (nothing searches it). Chroma acknowledges a write only once it is persisted on the
server, so a replica killed after answering loses nothing it acknowledged.

Chroma has no compare-and-set, so two replicas finishing turns of one thread at once could each
write a record missing the other's turn. `save` therefore merges: it re-reads the record and
keeps every turn and artifact either side has (turns by creation time). Within one replica,
turns of a thread are serialized anyway; a load balancer with affinity on `X-Throughline-Session`
makes the cross-replica case rare, the merge makes it harmless.

Workspace files (artifact bodies, charts) stay on each replica's disk; the record carries each
text artifact's content, and a replica that opens a thread another replica wrote to writes those
artifacts' files into its own workspace, so tools there find them (chart images stay behind).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from assistant.errors import MemoryFailure
from assistant.events import Artifact
from assistant.sessions import Session, SessionStore, _atomic_write

COLLECTION = "throughline_sessions"
RECORD = "tl.session"
_BINARY_KINDS = {"chart"}


class SharedSessionStore(SessionStore):
    """`SessionStore` whose records live in a Chroma server's collection instead of JSON files."""

    def __init__(self, data_dir: Path, user: str, url: str) -> None:
        super().__init__(data_dir, user)
        from memory import chroma_backend

        self._backend = chroma_backend
        self._url = url
        self._lock = threading.Lock()
        with self._errors():
            client = chroma_backend.open_http(url)
            self._collection = client.get_or_create_collection(
                COLLECTION, metadata={"hnsw:space": "l2"}, embedding_function=None
            )

    def _errors(self) -> Any:
        return _Translate(self._backend, self._url)

    def _id(self, name: str) -> str:
        return hashlib.sha256(f"{self.user}\0{name}".encode("utf-8")).hexdigest()

    def _read(self, name: str) -> str | None:
        with self._errors():
            found = self._collection.get(ids=[self._id(name)], include=["metadatas"])
        if not found["ids"]:
            return None
        return str(found["metadatas"][0][RECORD])

    def _parse(self, name: str, text: str | None) -> Session:
        session = super()._parse(name, text)
        session.artifacts = [self._local(session.name, a) for a in session.artifacts]
        return session

    def _write(self, name: str, payload: str) -> None:
        with self._lock:
            merged = _merge(self._read(name), payload)
            with self._errors():
                self._collection.upsert(
                    ids=[self._id(name)], embeddings=[[1.0]],
                    metadatas=[{RECORD: merged, "tl.user": self.user, "tl.name": name}],
                )

    def _records(self) -> list[tuple[str, str]]:
        with self._errors():
            found = self._collection.get(where={"tl.user": self.user}, include=["metadatas"])
        return sorted((str(meta["tl.name"]), str(meta[RECORD])) for meta in found["metadatas"])

    def _set_aside(self, name: str) -> None:
        with self._errors():
            record = self._read(name)
            self._collection.delete(ids=[self._id(name)])
        if record is not None:  # kept for the person to inspect, as the file store does
            _atomic_write(self.root / f"{self._id(name)[:16]}.corrupt-shared", record)

    def _remove(self, name: str) -> bool:
        if self._read(name) is None:
            return False
        with self._errors():
            self._collection.delete(ids=[self._id(name)])
        return True

    def _local(self, session: str, artifact: Artifact) -> Artifact:
        """The artifact with a path on this replica, writing its body there when it is missing."""
        if not artifact.path or artifact.kind in _BINARY_KINDS or Path(artifact.path).is_relative_to(self.workspaces):
            return artifact
        directory = self.workspace(session) / "artifacts"
        local = directory / Path(artifact.path).name
        if not local.exists():
            directory.mkdir(parents=True, exist_ok=True)
            _atomic_write(local, artifact.content)
        return dataclasses.replace(artifact, path=str(local))


def _merge(stored: str | None, payload: str) -> str:
    """`payload` plus any turns and artifacts only the stored record has (another replica's)."""
    if stored is None:
        return payload
    try:
        old, new = json.loads(stored), json.loads(payload)
    except ValueError:
        return payload
    mine = {_turn_key(t) for t in new.get("turns", [])}
    theirs = [t for t in old.get("turns", []) if _turn_key(t) not in mine]
    if theirs:
        new["turns"] = sorted(new["turns"] + theirs, key=lambda t: t.get("created_at", ""))
    known = {a.get("id") for a in new.get("artifacts", [])}
    extra = [a for a in old.get("artifacts", []) if a.get("id") not in known]
    if extra:
        new["artifacts"] = sorted(new["artifacts"] + extra, key=lambda a: a.get("created_at", ""))
    if not theirs and not extra:
        return payload
    return json.dumps(new, ensure_ascii=False, indent=1)


def _turn_key(turn: dict) -> tuple:
    return (turn.get("created_at"), turn.get("request"), turn.get("memory_id"))


class _Translate:
    """Chroma and network failures as MemoryFailure (the server holds memory and sessions alike)."""

    def __init__(self, backend: Any, url: str) -> None:
        self._inner = backend.translate_errors(url)

    def __enter__(self) -> None:
        self._inner.__enter__()

    def __exit__(self, *exc: Any) -> bool:
        from memory import MemoryStoreError

        try:
            return bool(self._inner.__exit__(*exc))
        except MemoryStoreError as error:
            raise MemoryFailure(str(error)) from error
