"""A saved copy of a namespace's mirror and BM25 index, so opening a big store does not rebuild
them from the journal before its first search (~6 s at 100k memories on 2 cores).

    <path>/journal/<collection>.snapshot     a header, then the pickled Mirror

The header keys it to the journal: its inode (a compaction or a repair makes a new file) and the
offset the mirror reflected when saved. On open, a snapshot whose inode matches and whose offset
is within the journal is loaded and the journal records after its offset are applied to it (the
writes since); anything else (no file, another journal, another format, an unreadable file) is
ignored and the mirror is rebuilt from the journal, as without a snapshot. It is a cache, never
the source of truth, and like the rest of the data dir it is trusted (pickle: only this user
writes the data dir).
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memory.mirror import Mirror

FORMAT = 1
REWRITE_AFTER_BYTES = 512 << 10  # journal growth after which a store's close saves a new snapshot
log = logging.getLogger(__name__)


def _key(inode: int, offset: int) -> dict:
    import bm25s

    return {"format": FORMAT, "bm25s": getattr(bm25s, "__version__", "?"), "inode": inode, "offset": offset}


def save(path: Path, mirror: "Mirror", inode: int, offset: int) -> None:
    """Write the snapshot atomically (a temp file, then a rename); no fsync: losing it costs a rebuild."""
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fp:
            pickle.dump(_key(inode, offset), fp, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(mirror, fp, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as exc:  # a full disk: the next open rebuilds from the journal instead
        tmp.unlink(missing_ok=True)
        log.warning("could not save the search index snapshot %s (%s); the next open rebuilds it", path, exc.strerror)


def load(path: Path, inode: int, size: int) -> "tuple[Mirror, int] | None":
    """(mirror, the journal offset it reflects) when the snapshot at `path` fits this journal."""
    try:
        with open(path, "rb") as fp:
            header = pickle.load(fp)
            wanted = _key(inode, header.get("offset", -1) if isinstance(header, dict) else -1)
            if header != wanted or not 0 <= header["offset"] <= size:
                return None
            return pickle.load(fp), header["offset"]
    except FileNotFoundError:
        return None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError) as exc:
        log.warning("ignoring the unreadable search index snapshot %s (%s: %s)", path, type(exc).__name__, exc)
        return None


class Prefetch:
    """`load` in a background thread, started when the store opens: unpickling (and importing
    bm25s) overlaps Chroma's start-up instead of delaying the first search."""

    def __init__(self, path: Path, inode: int, size: int) -> None:
        self.inode = inode
        self._result: "tuple[Mirror, int] | None" = None
        self._thread = threading.Thread(target=self._run, args=(path, inode, size), name="throughline-snapshot",
                                        daemon=True)
        self._thread.start()

    def _run(self, path: Path, inode: int, size: int) -> None:
        self._result = load(path, inode, size)

    def take(self, inode: int) -> "tuple[Mirror, int] | None":
        """The loaded snapshot, if the journal is still the file it was keyed to."""
        self._thread.join()
        return self._result if inode == self.inode else None
