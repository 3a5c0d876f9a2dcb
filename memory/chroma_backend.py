"""Everything that knows how Chroma is laid out: opening clients, naming collections, encoding
memories as Chroma metadata and translating Chroma's errors into `memory.errors`.

One collection per namespace, cosine space, our own embeddings (Chroma's default embedding
function is never used: it would download a model). A memory's Chroma metadata is

    tl.text                        the memory's text (not a Chroma document, see below)
    tl.kind, tl.session            kind and session (session left out when None)
    tl.created, tl.created_iso     created_at as epoch seconds (for ranges) and exact ISO text
    tl.meta                        the caller's metadata as JSON: the exact round trip
    tl.written                     when this process wrote it (epoch s): server-mode change feed
    m.<key>                        each scalar metadata value again, for `where` filters

The text is metadata rather than a Chroma document because a document also goes into Chroma's
full-text (trigram) index, which half of every write's time went to (1.6k vs 2.6k upserts/s for
10k short memories here) and which nothing reads: keyword search is our own BM25
(`memory.lexical`). Stores written before this keep their documents; `decode` reads either.

chromadb is imported inside functions only, so `import memory` stays cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import time
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from memory.errors import MemoryStoreError, StoreBusy, StoreCorrupt, StoreUnavailable
from memory.records import Memory, as_utc, check_kind

NAMESPACE_KEY = "throughline_namespace"
COLLECTION_PREFIX = "tl_"
USER_PREFIX = "m."
KIND, SESSION, CREATED, CREATED_ISO, META = "tl.kind", "tl.session", "tl.created", "tl.created_iso", "tl.meta"
TEXT = "tl.text"
WRITTEN = "tl.written"
_INT64 = (-(2**63), 2**63 - 1)
_CONNECT_TIMEOUT_S = 3.0


def collection_name(namespace: str) -> str:
    """A Chroma-legal, collision-free collection name: readable prefix plus a hash."""
    readable = re.sub(r"[^A-Za-z0-9_-]", "_", namespace)[:40]
    digest = hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:12]
    return f"{COLLECTION_PREFIX}{readable}_{digest}"


def _settings():
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def prepare_dir(path: Path) -> None:
    """Make `path` and its lock file, so failures say what to do before anything opens it."""
    if path.exists() and not path.is_dir():
        raise StoreCorrupt(
            f"the memory dir {path} is a file, not a directory; move it aside or pick another with --data-dir"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / ".lock").touch(exist_ok=True)  # the write lock's file; also proves the dir is writable
    except OSError as exc:
        reason = exc.strerror or exc
        raise StoreUnavailable(f"cannot write the memory dir {path}: {reason}; pick another with --data-dir") from exc


def open_persistent(path: Path):
    """A PersistentClient on the prepared `path`.

    Call it holding the dir's lock: two processes creating a fresh Chroma database at once
    race in its schema migration ("table collections already exists")."""
    _check_sqlite(path / "chroma.sqlite3")
    import chromadb

    with translate_errors(str(path)):
        return chromadb.PersistentClient(path=str(path), settings=_settings())


def _check_sqlite(db: Path) -> None:
    """StoreCorrupt unless `db` is absent or a Chroma database (Chroma would adopt any sqlite)."""
    if not db.exists():
        return
    try:
        con = sqlite3.connect(db, timeout=10)  # read-write: a hot journal left by a kill must be rolled back
        try:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(
            f"the memory store {db} is not a readable database ({exc}); "
            "run `assistant memory doctor --repair` to move its dir aside and rebuild it from its journal"
        ) from exc
    if tables and not {"collections", "embeddings"} <= tables:
        raise StoreCorrupt(
            f"{db} is a database but not a Chroma memory store; move its dir aside or pick another with --data-dir"
        )


def parse_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) from `http[s]://host[:port]`; the port defaults to 8000 (Chroma's) or 443."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a Chroma server URL: {url!r}; expected http://HOST:PORT or https://HOST[:PORT]")
    if parts.path not in ("", "/"):
        raise ValueError(f"a Chroma server URL has no path: {url!r}")
    ssl = parts.scheme == "https"
    return parts.hostname, parts.port or (443 if ssl else 8000), ssl


def open_http(url: str):
    """An HttpClient for `url`; StoreUnavailable within a few seconds if nothing answers there."""
    host, port, ssl = parse_url(url)
    unreachable = (
        f"cannot reach the Chroma server at {url}; "
        f"start one with `chroma run --path DIR --port {port}` or drop --memory-url"
    )
    try:
        socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise StoreUnavailable(f"{unreachable} ({exc.strerror or exc})") from exc
    import chromadb

    try:
        with translate_errors(url):
            return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_settings())
    except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
        raise StoreUnavailable(f"{unreachable} ({exc})") from exc


@contextlib.contextmanager
def translate_errors(where: str) -> Iterator[None]:
    """Chroma, HTTP and OS failures as memory.errors; caller mistakes (ValueError, TypeError) pass."""
    import httpx
    from chromadb.errors import ChromaError

    try:
        yield
    except MemoryStoreError:
        raise
    except httpx.TransportError as exc:
        raise StoreUnavailable(f"lost the Chroma server at {where} ({exc}); is `chroma run` still up?") from exc
    except (ChromaError, OSError) as exc:
        text = str(exc)
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            raise StoreBusy(
                f"the memory store at {where} is busy ({text}); share it through a server with --memory-url"
            ) from exc
        if "not a database" in lowered or "malformed" in lowered:
            raise StoreCorrupt(
                f"the memory store at {where} is damaged ({text}); "
                "run `assistant memory doctor --repair` to move it aside and rebuild it from its journal"
            ) from exc
        raise StoreUnavailable(f"the memory store at {where} failed: {text}") from exc


def encode(memory: Memory) -> dict[str, Any]:
    """The Chroma metadata for `memory` (see the module docstring)."""
    meta: dict[str, Any] = {
        TEXT: memory.text,
        KIND: memory.kind,
        CREATED: memory.created_at.timestamp(),
        CREATED_ISO: memory.created_at.isoformat(),
        META: json.dumps(memory.metadata, ensure_ascii=False, separators=(",", ":")),
        WRITTEN: time.time(),
    }
    if memory.session is not None:
        meta[SESSION] = memory.session
    for key, value in memory.metadata.items():
        filterable = isinstance(value, (str, bool, float)) or (
            isinstance(value, int) and _INT64[0] <= value <= _INT64[1]
        )
        if filterable:
            meta[USER_PREFIX + key] = value
    return meta


def stored_text(document: str | None, meta: dict[str, Any]) -> str | None:
    """A record's text: its metadata's, or the document older stores kept it in."""
    text = meta.get(TEXT)
    return text if isinstance(text, str) else document


def decode(id: str, document: str | None, meta: dict[str, Any] | None, namespace: str) -> Memory:
    """The Memory that `encode` stored as `meta` (`document`: where older stores kept the text)."""
    meta = meta or {}
    try:
        text = stored_text(document, meta)
        if text is None:
            raise KeyError(TEXT)
        return Memory(
            text=text,
            kind=meta[KIND],
            metadata=json.loads(meta[META]),
            created_at=datetime.fromisoformat(meta[CREATED_ISO]),
            id=id,
            namespace=namespace,
            session=meta.get(SESSION),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise StoreCorrupt(
            f"record {id!r} in namespace {namespace!r} was not written by Throughline ({exc!r}); "
            "delete that record or move the store aside"
        ) from exc


def build_where(
    *,
    kind: str | list[str] | tuple[str, ...] | None = None,
    session: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """One Chroma `where` from the search arguments; `where` keys name the caller's metadata."""
    clauses: list[dict[str, Any]] = []
    if kind is not None:
        if isinstance(kind, str):
            clauses.append({KIND: check_kind(kind)})
        else:
            kinds = [check_kind(k) for k in kind]
            # An empty list asks for no kinds: a kind no memory can have matches nothing.
            clauses.append({KIND: {"$in": kinds or ["(none)"]}})
    if session is not None:
        clauses.append({SESSION: session})
    if since is not None:
        clauses.append({CREATED: {"$gte": as_utc(since).timestamp()}})
    if until is not None:
        clauses.append({CREATED: {"$lt": as_utc(until).timestamp()}})
    if where:
        clauses.append(_user_where(where))
    return _all_of(clauses)


def _all_of(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _user_where(where: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(where, dict) or not where:
        raise ValueError(f"where must be a non-empty dict, got {where!r}")
    clauses = []
    for key, value in where.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"where[{key!r}] must be a non-empty list of conditions")
            parts = [_user_where(part) for part in value]
            clauses.append(parts[0] if len(parts) == 1 else {key: parts})
        elif key.startswith("$"):
            raise ValueError(f"where: {key!r} is not supported here; use $and, $or or a metadata key")
        else:
            _check_condition(key, value)
            clauses.append({USER_PREFIX + key: value})
    return _all_of(clauses)  # type: ignore[return-value]


def _check_condition(key: str, value: Any) -> None:
    values = list(value.values()) if isinstance(value, dict) else [value]
    for item in values:
        for scalar in item if isinstance(item, list) else [item]:
            if scalar is None:
                raise ValueError(
                    f"where[{key!r}]: None values cannot be filtered on (they are kept only in the JSON copy)"
                )


def open_collection(client: Any, namespace: str, create: bool, where: str) -> Any:
    """The namespace's collection (cosine space, no embedding function: vectors are ours);
    None when `create` is false and it does not exist yet."""
    from chromadb.errors import NotFoundError

    name = collection_name(namespace)
    with translate_errors(where):
        try:
            if create:
                return client.get_or_create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={NAMESPACE_KEY: namespace},
                    embedding_function=None,
                )
            return client.get_collection(name, embedding_function=None)
        except NotFoundError:
            return None


def read_all(collection: Any, namespace: str, where: str, page: int) -> Iterator[Memory]:
    """Every memory in `collection` (namespace left unset, as the journal and mirror keep
    them), a page at a time so a big collection never sits in one response."""
    import dataclasses

    offset = 0
    while collection is not None:
        with translate_errors(where):
            found = collection.get(limit=page, offset=offset, include=["documents", "metadatas"])
        for id, text, meta in zip(found["ids"], found["documents"], found["metadatas"]):
            yield dataclasses.replace(decode(id, text, meta, namespace), namespace=None)
        if len(found["ids"]) < page:
            return
        offset += page
