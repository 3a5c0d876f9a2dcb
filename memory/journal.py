"""The write-ahead journal: one JSON Lines file per namespace, the embedded store's source of truth.

Every write is appended here and fsync'd *before* it goes to Chroma and before `add_many` or
`delete` returns, so an acknowledged write survives `kill -9` (and power loss) at any moment. Chroma
and the lexical index are derived from the journal: on open, and whenever another process has
appended, the new records are replayed into Chroma where they are missing (upserts and deletes are
idempotent). `memory.doctor` rebuilds a broken store from it.

    {"op": "put", "m": {<Memory.to_dict()>}}
    {"op": "del", "ids": ["...", ...]}

A line is only complete with its newline: a process killed mid-append leaves a torn last line,
which readers ignore and the next writer truncates (that write was never acknowledged). A
complete line that does not parse is skipped and reported (`Journal.problems`), never fatal.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from memory.records import Memory

JOURNAL_DIR = "journal"


@dataclass
class Tail:
    """What `Journal.read` found after an offset."""

    records: list[dict[str, Any]]
    end: int  # offset just past the last complete line
    problems: list[str] = field(default_factory=list)


def put_record(memory: Memory) -> dict[str, Any]:
    data = memory.to_dict()
    data.pop("namespace", None)
    return {"op": "put", "m": data}


def del_record(ids: list[str]) -> dict[str, Any]:
    return {"op": "del", "ids": ids}


class Journal:
    """Append-only, fsync'd JSON Lines log. Callers serialise writers (the store's file lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def identity(self) -> tuple[int, int]:
        """(inode, size): a new inode means the file was rewritten (compacted) by someone."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (0, 0)
        return (st.st_ino, st.st_size)

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        """Append `records`, flush and fsync; returns the new end offset."""
        payload = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._drop_torn_tail(fd)
            data = payload.encode("utf-8")
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
            end = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.path.parent)
        return end

    def read(self, offset: int = 0) -> Tail:
        """The complete records after `offset` (0 reads everything)."""
        try:
            with open(self.path, "rb") as fp:
                fp.seek(offset)
                data = fp.read()
        except FileNotFoundError:
            return Tail([], 0)
        complete = data.rfind(b"\n") + 1
        records: list[dict[str, Any]] = []
        problems: list[str] = []
        position = offset
        for raw in data[:complete].splitlines(keepends=True):
            line = raw.strip()
            if line:
                try:
                    record = json.loads(line)
                    if record.get("op") not in ("put", "del"):
                        raise ValueError(f"unknown op {record.get('op')!r}")
                    records.append(record)
                except (ValueError, AttributeError) as exc:
                    problems.append(f"{self.path.name} byte {position}: unreadable record skipped ({exc})")
            position += len(raw)
        return Tail(records, offset + complete, problems)

    def rewrite(self, records: Iterable[dict[str, Any]]) -> int:
        """Replace the journal atomically with `records` (compaction); returns the new size."""
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fp:
            for record in records:
                fp.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        return self.path.stat().st_size

    @staticmethod
    def _drop_torn_tail(fd: int) -> None:
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return
        # A writer died mid-line: find the last newline and cut there.
        position, step = size, 1 << 16
        while position > 0:
            start = max(0, position - step)
            chunk = os.pread(fd, position - start, start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                os.ftruncate(fd, start + cut + 1)
                return
            position = start
        os.ftruncate(fd, 0)


def replay(records: Iterable[dict[str, Any]], problems: list[str] | None = None) -> dict[str, Memory | None]:
    """The net effect of `records`: id -> the latest Memory, or None when it was deleted last.

    A record that is valid JSON but not a valid memory is skipped (and noted in `problems`)."""
    state: dict[str, Memory | None] = {}
    for record in records:
        try:
            if record["op"] == "put":
                memory = Memory.from_dict(record["m"])
                state.pop(memory.id, None)  # keep dict order = order of the latest write
                state[memory.id] = memory
            else:
                for id in record["ids"]:
                    if not isinstance(id, str):
                        raise TypeError(f"id {id!r} is not a str")
                    state.pop(id, None)
                    state[id] = None
        except (KeyError, ValueError, TypeError) as exc:
            if problems is not None:
                problems.append(f"journal record skipped: {exc!r}"[:300])
    return state


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the file itself is synced
    finally:
        os.close(fd)
