"""The mirror's own copy of its memories' vectors, by row, so a search ranks them without
Chroma's vector index.

Chroma reads a collection's whole HNSW index on the first call that touches it (~0.3-2 s at
100k memories on 2 cores); `count` even holds the interpreter lock for all of it. A store
opened and searched at once (an app's first request) paid that on its first search: 14x a
warm search at 100k. Over this copy (saved in the snapshot, mapped, not read) a search ranks
exactly instead: one matrix product over the rows, ~14 ms at 100k x 384 when the pages are
cached, about what Chroma's approximate search costs warm, and never less accurate.

Where the vectors come from:
- a snapshot that has them (`memory.snapshot_columns`): the rows it saved;
- this process's writes (`memory.writing` passes the vectors it embedded);
- `VectorLog`: what writes since the last snapshot appended (any process), looked up by id
  and checked against the text they embedded;
- Chroma, before a snapshot is saved, for rows none of these covered.
The copy is a cache: Chroma stays the store of record (and what server mode, `where` filters
and very large stores search; see `MemoryStore._searchable_copy`).
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import numpy as np

    from memory.records import Memory

log = logging.getLogger(__name__)
_ENTRY = struct.Struct("<III")  # the embedded text's crc32, the id's length in bytes, the width


class VectorCopy:
    """Vectors by mirror row: the snapshot's rows (a mapped array) plus rows set since, in one
    growing array, so ranking is two matrix products whatever the number of rows.

    Rows only grow and a replaced memory gets a new row (see `memory.mirror`), so a row's
    vector never changes once set and rows set since the snapshot all come after its rows."""

    def __init__(self, saved: "np.ndarray | None" = None) -> None:
        import numpy as np

        self._saved = saved
        width = saved.shape[1] if saved is not None and saved.ndim == 2 else 0
        self._grown = np.zeros((0, width), dtype=np.float32)  # row saved_rows + i at i
        self._known = np.zeros(0, dtype=bool)

    @property
    def saved_rows(self) -> int:
        return 0 if self._saved is None else len(self._saved)

    def set(self, row: int, vector: Iterable[float]) -> None:
        import numpy as np

        at = row - self.saved_rows
        if at < 0:
            return
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if self._grown.shape[1] != len(vector):
            if self._known.any():
                return  # another width than every vector so far: not from this store's embedder
            self._grown = np.zeros((len(self._grown), len(vector)), dtype=np.float32)
        if at >= len(self._grown):
            capacity = max(1024, 2 * len(self._grown), at + 1)
            grown = np.zeros((capacity, self._grown.shape[1]), dtype=np.float32)
            grown[: len(self._grown)] = self._grown
            known = np.zeros(capacity, dtype=bool)
            known[: len(self._known)] = self._known
            self._grown, self._known = grown, known
        self._grown[at], self._known[at] = vector, True

    def missing(self, alive: "np.ndarray") -> list[int]:
        """Live rows without a vector."""
        import numpy as np

        after = alive[self.saved_rows:]
        known = np.zeros(len(after), dtype=bool)
        shared = min(len(after), len(self._known))
        known[:shared] = self._known[:shared]
        return (np.flatnonzero(after & ~known) + self.saved_rows).tolist()

    def similarities(self, queries: "np.ndarray", size: int) -> "np.ndarray":
        """Cosine of each of `size` rows to each query (rows x queries; the vectors are unit
        length); NaN for a row without a vector."""
        import numpy as np

        queries = np.asarray(queries, dtype=np.float32).reshape(len(queries), -1)
        out = np.full((size, len(queries)), np.nan, dtype=np.float32)
        saved = min(self.saved_rows, size)
        if saved:
            np.matmul(self._saved[:saved], queries.T, out=out[:saved])
        grown = min(size - saved, len(self._grown))
        if grown > 0 and self._grown.shape[1] == queries.shape[1]:
            scores = self._grown[:grown] @ queries.T
            scores[~self._known[:grown]] = np.nan
            out[saved: saved + grown] = scores
        return out

    def dense(self, size: int) -> "np.ndarray":
        """Every row's vector as one (size, width) array, zeros where a row has none (a dead row)."""
        import numpy as np

        width = self._saved.shape[1] if self.saved_rows else self._grown.shape[1]
        out = np.zeros((size, width), dtype=np.float32)
        saved = min(self.saved_rows, size)
        if saved:
            out[:saved] = self._saved[:saved]
        grown = min(size - saved, len(self._grown))
        if grown > 0 and self._grown.shape[1] == width:
            out[saved: saved + grown] = np.where(self._known[:grown, None], self._grown[:grown], 0)
        return out


class VectorLog:
    """The vectors of writes since the last snapshot, appended by every writer of the store, so
    the next process's copy covers the journal's tail without embedding it again.

        <journal>.vectors    [crc32 of the embedded text, id length, width][id][width float32] ...

    Appended under the store's lock and never fsync'd: a torn or lost entry only means that row
    has no copy until Chroma supplies it. Cleared once a snapshot holds its vectors and it has
    grown large (`memory.embedded_sync.VECTOR_LOG_BYTES`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._read: tuple[int, int] = (0, 0)  # (inode, offset) of what `_entries` holds
        self._entries: dict[str, tuple[int, "np.ndarray"]] = {}

    def append(self, memories: list["Memory"], vectors: Iterable[Iterable[float]]) -> None:
        import numpy as np

        parts = []
        for memory, vector in zip(memories, vectors):
            array = np.asarray(vector, dtype="<f4").reshape(-1)
            key = memory.id.encode("utf-8")
            parts += [_ENTRY.pack(text_crc(memory), len(key), len(array)), key, array.tobytes()]
        try:
            with open(self.path, "ab") as fp:
                fp.write(b"".join(parts))
        except OSError as exc:  # a cache: a full disk costs the next open its copy of these rows
            log.info("could not append to %s (%s)", self.path, exc.strerror)

    def read(self) -> dict[str, tuple[int, "np.ndarray"]]:
        """id -> (crc32 of the embedded text, vector); the last entry for an id wins. Only what
        was appended since the last call is read (another process's writes, at each catch-up)."""
        import numpy as np

        try:
            with open(self.path, "rb") as fp:
                inode = os.fstat(fp.fileno()).st_ino
                inode_read, offset = self._read
                if inode != inode_read or os.fstat(fp.fileno()).st_size < offset:
                    self._entries, offset = {}, 0  # cleared (and written again) since
                fp.seek(offset)
                data = fp.read()
        except OSError:
            self._read, self._entries = (0, 0), {}
            return {}
        at = 0
        while at + _ENTRY.size <= len(data):
            crc, key_len, width = _ENTRY.unpack_from(data, at)
            end = at + _ENTRY.size + key_len + 4 * width
            if end > len(data):
                break  # torn by a crash mid-append (or being appended now): read again next time
            key = data[at + _ENTRY.size: at + _ENTRY.size + key_len].decode("utf-8", "replace")
            self._entries[key] = (crc, np.frombuffer(data, dtype="<f4", count=width, offset=end - 4 * width))
            at = end
        self._read = (inode, offset + at)
        return self._entries

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self._read, self._entries = (0, 0), {}


def text_crc(memory: "Memory") -> int:
    """What ties a logged vector to the memory it embedded: a memory later replaced under the
    same id by a writer that logged nothing must not take the old text's vector."""
    from memory.mirror import embedding_text

    return zlib.crc32(embedding_text(memory).encode("utf-8"))
