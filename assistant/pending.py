"""Memory writes not yet in the store, kept on disk until they are: nothing is lost when the
process ends (a kill, or the TUI leaving while a turn is stuck) before the background writer
has stored a turn's memories.

    pending = PendingWrites(data_dir, user)
    ticket = pending.keep(batch)       # fsync'd to <data_dir>/pending/<user>/<ticket>.jsonl
    store.add_many(batch); pending.done(ticket)
    pending.recover(store.add_many)     # at the next open: store what a dead process left

A batch is one JSON Lines file (memory records as `memory.jsonl` writes them), written to a
temporary name, fsync'd and renamed, so a file is whole or absent. Writing a batch twice is
harmless: memories keep their ids and the store upserts.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from assistant.errors import DataDirError
from assistant.sessions import disk_name

if TYPE_CHECKING:
    from memory import Memory

log = logging.getLogger(__name__)


class PendingWrites:
    def __init__(self, data_dir: Path, user: str) -> None:
        self.dir = Path(data_dir) / "pending" / disk_name(user)

    def keep(self, batch: list["Memory"]) -> str:
        """Make `batch` durable on disk before it is handed to the writer; returns its ticket."""
        ticket = f"{uuid.uuid4().hex}"
        payload = "".join(json.dumps(m.to_dict(), ensure_ascii=False) + "\n" for m in batch).encode("utf-8")
        tmp = self.dir / f".{ticket}.tmp"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fp:
                fp.write(payload)
                fp.flush()
                os.fsync(fp.fileno())
            os.replace(tmp, self.dir / f"{ticket}.jsonl")
        except OSError as exc:
            raise DataDirError(f"cannot keep this turn's memories in {self.dir}: {exc.strerror or exc}") from None
        return ticket

    def done(self, ticket: str | None) -> None:
        if ticket is not None:
            (self.dir / f"{ticket}.jsonl").unlink(missing_ok=True)

    def recover(self, add_many: Callable[[list["Memory"]], object]) -> int:
        """Store every batch a process left behind (oldest first); returns how many memories."""
        from memory import Memory

        recovered = 0
        files = sorted(self.dir.glob("*.jsonl"), key=lambda p: p.stat().st_mtime) if self.dir.is_dir() else []
        for file in files:
            try:
                batch = [Memory.from_dict(json.loads(line)) for line in file.read_text(encoding="utf-8").splitlines() if line]
            except (ValueError, TypeError) as exc:  # not ours to fix: keep it aside for the person
                file.replace(file.with_suffix(".unreadable"))
                log.warning("pending memory writes in %s are unreadable (%s); kept as %s", file, exc, file.with_suffix(".unreadable"))
                continue
            add_many(batch)
            file.unlink(missing_ok=True)
            recovered += len(batch)
        if recovered:
            log.warning("stored %d memories a previous run left unwritten", recovered)
        return recovered
