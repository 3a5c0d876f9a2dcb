"""A saved copy of a namespace's mirror, BM25 index and vectors, so opening a big store does not
rebuild them from the journal before its first search (~6 s at 100k memories on 2 cores), nor
make that search wait for Chroma's vector index (see `memory.vector_copy`).

    <path>/journal/<collection>.snapshot
        MAGIC, one line of JSON (the key, the table of arrays, small values), then the arrays'
        raw bytes, each at a 64-byte-aligned offset

The arrays (see `memory.snapshot_columns`) are mapped, not read: loading costs milliseconds and
a row's memory is decoded only when a search reads it. (The first format pickled the mirror:
~2 s to load at 100k, holding the GIL.)

The key ties it to the journal: its inode (a compaction or a repair makes a new file) and the
offset the mirror reflected when saved. On open, a snapshot whose inode matches and whose offset
is within the journal is loaded and the journal records after its offset are applied to it (the
writes since); anything else (no file, another journal, another format, a bm25s version, a
checksum that does not match, a torn file) is ignored and the mirror is rebuilt from the journal,
as without a snapshot. It is a cache, never the source of truth.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memory.mirror import Mirror

FORMAT = 3
MAGIC = b"throughline-snapshot\n"
ALIGN = 64
REWRITE_AFTER_BYTES = 512 << 10  # journal growth after which a store's close saves a new snapshot
log = logging.getLogger(__name__)


class Rejected(ValueError):
    """The file is not a snapshot this code can use for this journal."""


def _key(inode: int, offset: int) -> dict:
    import bm25s

    return {"format": FORMAT, "bm25s": getattr(bm25s, "__version__", "?"), "inode": inode, "offset": offset}


def save(path: Path, mirror: "Mirror", inode: int, offset: int) -> bool:
    """Write the snapshot atomically (a temp file, then a rename); no fsync: losing it costs a
    rebuild. False when it was not written."""
    import numpy as np

    from memory import snapshot_columns

    try:
        arrays, values = snapshot_columns.encode(mirror)
    except snapshot_columns.Unknown as exc:
        log.warning("not saving a search index snapshot: %s", exc)
        return False
    arrays = {name: np.ascontiguousarray(array) for name, array in arrays.items()}  # checksummed and written as is
    table, at = {}, 0
    for name, array in arrays.items():
        table[name] = [array.dtype.str, list(array.shape), at]
        at = _aligned(at + array.nbytes)
    checksum = 0
    for array in arrays.values():
        checksum = zlib.crc32(array, checksum)
    header = json.dumps({**_key(inode, offset), "arrays": table, "values": values, "body_bytes": at,
                         "crc32": checksum}, ensure_ascii=False).encode("utf-8") + b"\n"
    body_start = _aligned(len(MAGIC) + len(header))
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fp:
            fp.write(MAGIC + header)
            for name, array in arrays.items():
                fp.seek(body_start + table[name][2])
                fp.write(array)
            fp.truncate(body_start + at)
        os.replace(tmp, path)
    except OSError as exc:  # a full disk: the next open rebuilds from the journal instead
        tmp.unlink(missing_ok=True)
        log.warning("could not save the search index snapshot %s (%s); the next open rebuilds it", path, exc.strerror)
        return False
    return True


def load(path: Path, inode: int, size: int) -> "tuple[Mirror, int] | None":
    """(mirror, the journal offset it reflects) when the snapshot at `path` fits this journal."""
    from memory import snapshot_columns

    try:
        with open(path, "rb") as fp:
            header = _header(fp, inode, size)
            mapped = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ)
        arrays = _arrays(mapped, header)
        return snapshot_columns.decode(arrays, header["values"]), header["offset"]
    except FileNotFoundError:
        return None
    except Rejected as exc:
        log.info("not using the search index snapshot %s: %s", path, exc)
        return None
    except (OSError, ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as exc:
        log.warning("ignoring the unreadable search index snapshot %s (%s: %s)", path, type(exc).__name__, exc)
        return None


def _header(fp: Any, inode: int, size: int) -> dict[str, Any]:
    if fp.read(len(MAGIC)) != MAGIC:
        raise Rejected("another format")
    header = json.loads(fp.readline())
    if not isinstance(header, dict):
        raise Rejected("no header")
    if {k: header.get(k) for k in ("format", "bm25s", "inode", "offset")} != _key(inode, header.get("offset", -1)):
        raise Rejected("made for another journal, format or bm25s version")
    if not 0 <= header["offset"] <= size:
        raise Rejected("made for a longer journal")
    header["body_start"] = _aligned(fp.tell())
    return header


def _arrays(mapped: mmap.mmap, header: dict[str, Any]) -> "dict[str, Any]":
    import numpy as np

    start = header["body_start"]
    if len(mapped) != start + header["body_bytes"]:
        raise Rejected("torn (its size is not the size written)")
    arrays, checksum = {}, 0
    for name, (dtype, shape, at) in header["arrays"].items():
        count = int(np.prod(shape)) if shape else 1
        array = np.frombuffer(mapped, dtype=np.dtype(dtype), count=count, offset=start + at).reshape(shape)
        checksum = zlib.crc32(array, checksum)
        arrays[name] = array
    if checksum != header["crc32"]:
        raise Rejected("its checksum does not match (a damaged file)")
    return arrays


def _aligned(at: int) -> int:
    return -(-at // ALIGN) * ALIGN


class Prefetch:
    """`load` in a background thread, started when the store opens: mapping the file (and
    importing bm25s) overlaps Chroma's start-up instead of delaying the first search. `then`
    (the query path's one-time work) runs after it in the same thread."""

    def __init__(self, path: Path, inode: int, size: int, then: Callable[[], None] | None = None) -> None:
        self.inode = inode
        self._result: "tuple[Mirror, int] | None" = None
        self._thread = threading.Thread(target=self._run, args=(path, inode, size, then), name="throughline-snapshot",
                                        daemon=True)
        self._thread.start()

    def _run(self, path: Path, inode: int, size: int, then: Callable[[], None] | None) -> None:
        self._result = load(path, inode, size)
        if then is not None:
            then()

    def take(self, inode: int) -> "tuple[Mirror, int] | None":
        """The loaded snapshot, if the journal is still the file it was keyed to."""
        self._thread.join()
        return self._result if inode == self.inode else None
