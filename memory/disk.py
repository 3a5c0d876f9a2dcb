"""What the disk under a memory dir allows: is it there, writable, with room to spare? And the
read-only fallback: a store on a read-only disk is opened as a temporary copy, so it can still be
searched and exported (Chroma cannot open a database it may not write to).

`memory.doctor` asks `condition()` before anything else, so a full or read-only disk is named as
such instead of looking like a broken store (and a repair is never tried where it cannot work).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from pathlib import Path

MIN_FREE_BYTES = 16 << 20  # below this, Chroma's own writes (WAL, HNSW files) may fail
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
_SKIPPED = (".lock", ".open", "*.tmp*")
log = logging.getLogger(__name__)


def writable(path: Path) -> bool:
    """Can files be created in the existing dir `path`? (Tried, not guessed: root ignores modes,
    a read-only mount does not.) A full disk still counts as writable here."""
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-probe-")
    except OSError as exc:
        if exc.errno in _READ_ONLY_ERRNOS:
            return False
        if exc.errno == errno.ENOSPC:
            return True
        raise
    os.close(fd)
    os.unlink(probe)
    return True


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def condition(path: Path) -> str | None:
    """"missing", "not a dir", "read-only" or "disk full" — whatever stops any check or repair of
    the store at `path` — else None."""
    if not path.exists():
        return "missing"
    if not path.is_dir():
        return "not a dir"
    if not writable(path):
        return "read-only"
    if free_bytes(path) < MIN_FREE_BYTES:
        return "disk full"
    return None


def read_only_copy(path: Path) -> Path:
    """A private, writable copy of the store at `path` in the temp dir (the caller deletes it)."""
    scratch = Path(tempfile.mkdtemp(prefix="throughline-read-only-"))
    copy = scratch / path.name
    shutil.copytree(path, copy, ignore=shutil.ignore_patterns(*_SKIPPED))
    log.warning("the memory store %s is read-only: searching and exporting a copy at %s; writes are refused", path, copy)
    return copy


def remove_copy(copy: Path) -> None:
    shutil.rmtree(copy.parent, ignore_errors=True)  # our own temp dir, made by read_only_copy
