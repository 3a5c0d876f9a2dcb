"""Moving memories in and out in bulk and sizing them up: JSON Lines import, the per-namespace
counts and the bytes on disk that `MemoryStore.stats` reports. Export is `write_jsonl` over
`MemoryStore.all()`, which pages through Chroma."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any, Callable

from memory import chroma_backend as backend
from memory.errors import MemoryStoreError
from memory.jsonl import MAX_TEXT_CHARS, Target, check_jsonl, records, replayable
from memory.records import Memory

IMPORT_CHUNK = 1024


def import_jsonl(add_many: Callable[[list[Memory]], list[str]], source: Target, max_chars: int = MAX_TEXT_CHARS) -> int:
    """Feed an export to `add_many` in chunks, each record re-homed to the importing store's
    namespace; returns how many were added.

    The whole file is checked first: one bad line (malformed, not UTF-8, empty or over-long
    text) imports nothing and raises `ImportFileError` naming the bad lines. If the store fails
    part-way, its error says how many records (through which line) were stored; records keep
    their ids (or get content-derived ones), so importing the file again is safe."""
    name = str(source) if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "the import")
    with replayable(source) as opener:
        check_jsonl(opener, str(name), max_chars)
        imported, through = 0, 0
        chunk: list[Memory] = []
        try:
            with opener() as fp:
                for number, memory, _ in records(fp, max_chars):
                    chunk.append(dataclasses.replace(memory, namespace=None))
                    if len(chunk) >= IMPORT_CHUNK:
                        imported += len(add_many(chunk))
                        through, chunk = number, []
                if chunk:
                    imported += len(add_many(chunk))
        except MemoryStoreError as exc:
            stored = f"the first {imported} records (through line {through})" if imported else "no records"
            raise type(exc)(
                f"{exc} — {stored} of {name} were stored before this; fix the cause and import the file again "
                "(records keep their ids, so nothing is duplicated)"
            ) from exc
    return imported


def namespace_counts(client: Any) -> dict[str, int]:
    """Memories per namespace on this path or server, sorted by namespace; collections that
    are not ours (no namespace key) are left out."""
    counts: dict[str, int] = {}
    for collection in client.list_collections():
        name = (collection.metadata or {}).get(backend.NAMESPACE_KEY)
        if name is not None:
            counts[name] = client.get_collection(collection.name, embedding_function=None).count()
    return dict(sorted(counts.items()))


def namespaces(client: Any) -> list[str]:
    key = backend.NAMESPACE_KEY
    return sorted({c.metadata[key] for c in client.list_collections() if c.metadata and key in c.metadata})


def disk_usage(path: Path | None) -> tuple[int | None, int | None]:
    """(data dir bytes, journal bytes) for an embedded store; (None, None) on a server."""
    if path is None:
        return None, None
    journal = path / "journal"
    return dir_size(path), dir_size(journal) if journal.exists() else 0


def dir_size(path: Path) -> int:
    """Bytes under `path`; files Chroma removes while we walk are skipped."""
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += (Path(root) / name).stat().st_size
    return total
