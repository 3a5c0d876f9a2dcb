"""Reopening an embedded store that a process died holding open.

Chroma writes its HNSW index files in place every `sync_threshold` records. A process killed
while it writes them leaves files that no longer match Chroma's own log, and the next open
fails ("Failed to apply logs to the hnsw segment writer") or crashes the interpreter inside
Chroma's native code (a segfault: 2 of 6 runs of 20 kill -9 cycles each, here). The journal
still holds every acknowledged write, so the store can always be rebuilt from it; that is what
`memory doctor --repair` does.

Each `MemoryStore` on a path leaves a marker in `<path>/.open/` (process id, its start time and
a nonce) and removes it on close, or at interpreter exit. A marker whose process is gone means
that process died with the store open. The next opener then probes Chroma in a child process
first (a crash there cannot take the opener down) and, if the probe fails and no live process
has the store open, repairs it as `doctor --repair` would: the damaged files moved aside (never
deleted), Chroma rebuilt from the journals. A clean shutdown costs nothing at open; a crash
costs one probe (~1.5 s).
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from pathlib import Path

from memory.embedded import store_busy
from memory.errors import StoreCorrupt

MARKERS = ".open"
log = logging.getLogger(__name__)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22 overall; the name in (...) may hold spaces


def _alive(pid: int, started: str) -> bool:
    if Path("/proc").is_dir():
        return _start_time(pid) == started
    try:  # not Linux: a live pid is taken at its word
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_open(path: Path) -> Path | None:
    """Leave this store's marker; returns it (remove it with `mark_closed`), or None when it cannot
    be written (the store still opens; a crash of this process then goes unnoticed)."""
    pid = os.getpid()
    marker = path / MARKERS / f"{pid}-{_start_time(pid) or 0}-{uuid.uuid4().hex[:8]}"
    try:
        marker.parent.mkdir(exist_ok=True)
        marker.touch()
    except OSError as exc:
        log.warning("cannot mark %s as open (%s); a crash of this process will not be detected", path, exc)
        return None
    return marker


def mark_closed(marker: Path | None) -> None:
    if marker is not None:
        with contextlib.suppress(OSError):
            marker.unlink()


def _markers(path: Path) -> tuple[list[Path], int]:
    """(markers of processes that are gone, how many live ones)."""
    dead, live = [], 0
    for marker in (path / MARKERS).glob("*-*-*"):
        pid, started, _ = marker.name.split("-", 2)
        if pid.isdigit() and _alive(int(pid), started):
            live += 1
        else:
            dead.append(marker)
    return dead, live


def recover_after_crash(path: Path, embedder, lock_timeout: float) -> str | None:
    """If a process died with the store at `path` open, check Chroma and rebuild it when broken.

    Returns what was done (None when nothing was needed). Raises StoreCorrupt when Chroma is
    broken but another live process has the store open (moving it from under that process would
    strand its writes)."""
    from filelock import FileLock, Timeout

    from memory.doctor import doctor, probe as probe_chroma

    if not (path / MARKERS).is_dir():
        return None
    try:
        with FileLock(path / ".lock", timeout=lock_timeout):
            dead, live = _markers(path)
            if not dead:
                return None
            probe = probe_chroma(path)
            for marker in dead:
                mark_closed(marker)
            if "error" not in probe:
                return None
    except Timeout as exc:
        raise store_busy(path, lock_timeout) from exc
    if live:
        raise StoreCorrupt(
            f"the memory store at {path} was damaged by a process that died with it open "
            f"({probe['error']}); close the other assistants using it, then run `assistant memory doctor --repair`"
        )
    report = doctor(path, repair=True, embedder=embedder)
    if not report.healthy:
        raise StoreCorrupt(
            f"the memory store at {path} was damaged by a process that died with it open and could not be "
            f"rebuilt: {'; '.join(report.problems)}"
        )
    done = (
        f"the memory store at {path} was damaged by a process that died with it open ({probe['error']}); "
        f"rebuilt it from its journal: {'; '.join(report.actions)}"
    )
    log.warning(done)
    return done
