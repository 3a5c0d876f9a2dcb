"""`doctor(path)`: check an embedded memory dir and, with `repair=True`, fix it.

    report = doctor("~/.local/share/throughline/memory")            # check only
    report = doctor(path, repair=True)                               # move aside + rebuild
    print(report)                                                    # one line per finding

Checks: the dir is a dir and not in use; Chroma's database reads and passes sqlite's
quick_check; every collection opens and answers a query (probed in a child process, so a Chroma
crash cannot take the caller down); every journal reads (torn tails, unreadable records); the
journal and Chroma hold the same ids per namespace.

Repair: a broken Chroma is moved aside whole to `<path>.broken-<timestamp>` (nothing is ever
deleted) and rebuilt from the journals it held, re-embedding every memory; `exports` (JSON Lines
from `export_jsonl`) are imported on top. A healthy Chroma that merely disagrees with its journal
is reconciled in place (replayed, or adopted into the journal). Torn journal tails are cut.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

from memory.embedded import journal_namespaces
from memory.errors import MemoryStoreError
from memory.journal import JOURNAL_DIR, Journal, replay
from memory.records import Memory

PROBE_TIMEOUT_S = 120


@dataclass(frozen=True)
class DoctorReport:
    """What `doctor` found and did. `healthy` is True when no problem is left."""

    path: Path
    healthy: bool
    problems: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    namespaces: dict[str, int] = field(default_factory=dict)
    moved_to: Path | None = None

    def __str__(self) -> str:
        lines = [f"memory store {self.path}: {'healthy' if self.healthy else 'NEEDS REPAIR'}"]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  done: {a}" for a in self.actions]
        lines += [f"  namespace {ns!r}: {n} memories" for ns, n in sorted(self.namespaces.items())]
        if not self.healthy and not self.actions:
            lines.append("  run `assistant memory doctor --repair` to move the broken store aside and rebuild it")
        return "\n".join(lines)


def doctor(
    path: str | os.PathLike[str], *, repair: bool = False, embedder=None, exports: Iterable[str | os.PathLike[str]] = ()
) -> DoctorReport:
    """Check the embedded memory store at `path`; with `repair`, fix what can be fixed."""
    path = Path(path).expanduser().resolve()
    problems, actions = _check(path)
    moved: Path | None = None
    if repair and (problems or exports):
        moved = _repair(path, problems, actions, embedder, list(exports))
        problems, _ = _check(path)
    namespaces = _journal_counts(path) if path.is_dir() else {}
    return DoctorReport(path, not problems, tuple(problems), tuple(actions), namespaces, moved)


# -- checks ---------------------------------------------------------------------------------------


def _check(path: Path) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    if not path.exists():
        return problems, []
    if not path.is_dir():
        return [f"{path} is a file, not a memory dir"], []
    busy = _busy(path)
    if busy:
        return [busy], []
    db = path / "chroma.sqlite3"
    db_ok = True
    if db.exists():
        db_ok = _check_sqlite(db, problems)
    journals = _journals(path, problems)
    if db_ok:
        found = probe(path)
        if "error" in found:
            problems.append(f"Chroma cannot open the store: {found['error']}")
        else:
            _compare(found["collections"], journals, problems)
    return problems, []


def _busy(path: Path) -> str | None:
    from filelock import FileLock, Timeout

    lock = FileLock(path / ".lock")
    try:
        lock.acquire(timeout=2)
    except Timeout:
        return f"{path} is in use by another process; close the other assistant first"
    lock.release()
    return None


def _check_sqlite(db: Path, problems: list[str]) -> bool:
    try:
        con = sqlite3.connect(db, timeout=10)  # read-write: a hot journal left by a kill must be rolled back
        try:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            result = con.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        problems.append(f"{db.name} is not a readable database ({exc})")
        return False
    if tables and not {"collections", "embeddings"} <= tables:
        problems.append(f"{db.name} is a database but not a Chroma memory store")
        return False
    if result != "ok":
        problems.append(f"{db.name} fails sqlite's quick_check: {result}")
        return False
    return True


def _journals(path: Path, problems: list[str]) -> dict[str, dict[str, Memory | None]]:
    """collection name -> replayed journal state."""
    out = {}
    for file in sorted((path / JOURNAL_DIR).glob("*.jsonl")):
        journal = Journal(file)
        tail = journal.read(0)
        problems.extend(tail.problems)
        if tail.end < file.stat().st_size:
            problems.append(f"{file.name} ends with a torn record (a write that was never acknowledged)")
        out[file.stem] = replay(tail.records, problems)
    return out


_PROBE = """
import json, sys
import numpy as np
import chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
out = {}
for col in client.list_collections():
    col = client.get_collection(col.name, embedding_function=None)
    ids, offset = [], 0
    while True:
        page = col.get(limit=5000, offset=offset, include=[])["ids"]
        ids += page
        offset += 5000
        if len(page) < 5000:
            break
    if ids:
        emb = col.get(ids=ids[:1], include=["embeddings"])["embeddings"]
        col.query(query_embeddings=np.asarray(emb, dtype=np.float32), n_results=1, include=[])
    out[col.name] = {"namespace": (col.metadata or {}).get("throughline_namespace"), "ids": ids}
print(json.dumps({"collections": out}))
"""


def probe(path: Path) -> dict:
    """Open every collection in a child process (a Chroma crash cannot take the caller down)."""
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(_PROBE), str(path)],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {PROBE_TIMEOUT_S} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return {"error": last[:300]}
    return json.loads(done.stdout)


def _compare(collections: dict, journals: dict, problems: list[str]) -> None:
    for name, info in collections.items():
        if not name.startswith("tl_"):
            continue
        stored = set(info["ids"])
        state = journals.get(name)
        if state is None:
            if stored:
                problems.append(f"namespace {info['namespace']!r} has no journal ({len(stored)} memories written before journals)")
            continue
        live = {id for id, m in state.items() if m is not None}
        if live - stored:
            problems.append(f"namespace {info['namespace']!r}: {len(live - stored)} journaled memories missing from Chroma")
        if stored - live:
            problems.append(f"namespace {info['namespace']!r}: {len(stored - live)} memories in Chroma but not in the journal")
    for name, state in journals.items():
        if name not in collections and any(m is not None for m in state.values()):
            problems.append(f"journal {name} has memories but Chroma has no collection for them")


def _journal_counts(path: Path) -> dict[str, int]:
    names = journal_namespaces(path)
    counts = {}
    for file in sorted((path / JOURNAL_DIR).glob("*.jsonl")):
        state = replay(Journal(file).read(0).records)
        counts[names.get(file.name, file.stem)] = sum(m is not None for m in state.values())
    return counts


# -- repair ---------------------------------------------------------------------------------------


def _repair(path: Path, problems: list[str], actions: list[str], embedder, exports: list) -> Path | None:
    from memory.store import MemoryStore

    if any("in use by another process" in p for p in problems):
        return None
    broken = any(
        key in p for p in problems
        for key in ("not a readable database", "quick_check", "Chroma cannot open", "is a file", "not a Chroma memory store")
    )
    moved = None
    if broken:
        moved = path.with_name(f"{path.name}.broken-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, moved)
        actions.append(f"moved the broken store aside to {moved}")
        path.mkdir(parents=True)
        if moved.is_dir() and (moved / JOURNAL_DIR).is_dir():
            shutil.copytree(moved / JOURNAL_DIR, path / JOURNAL_DIR)
    for file in sorted((path / JOURNAL_DIR).glob("*.jsonl")):
        journal = Journal(file)
        tail = journal.read(0)
        if tail.problems or tail.end < file.stat().st_size:
            journal.rewrite(tail.records)  # drops unreadable lines and a torn tail
            actions.append(f"rewrote {file.name} without its unreadable or torn records")
    names = journal_namespaces(path)
    for file in sorted((path / JOURNAL_DIR).glob("*.jsonl")):
        namespace = names.get(file.name)
        if namespace is None:
            actions.append(f"skipped {file.name}: its namespace is not recorded")
            continue
        _rebuild(MemoryStore, path, namespace, embedder, actions)
    for probe_ns in _chroma_namespaces(path):
        if probe_ns not in names.values():
            _rebuild(MemoryStore, path, probe_ns, embedder, actions)  # adopts pre-journal collections
    for export in exports:
        _import(MemoryStore, path, Path(export), embedder, actions)
    return moved


def _rebuild(MemoryStore, path: Path, namespace: str, embedder, actions: list[str]) -> None:
    try:
        with MemoryStore(path, namespace=namespace, embedder=embedder) as store:
            with store._log.locked():
                store._sync.rebuild()
            actions.append(f"namespace {namespace!r}: {store.count()} memories in Chroma, matching the journal")
    except MemoryStoreError as exc:
        actions.append(f"namespace {namespace!r}: could not rebuild ({exc})")


def _chroma_namespaces(path: Path) -> list[str]:
    found = probe(path)
    if "error" in found:
        return []
    return [c["namespace"] for c in found["collections"].values() if c.get("namespace")]


def _import(MemoryStore, path: Path, export: Path, embedder, actions: list[str]) -> None:
    from memory.jsonl import read_jsonl

    by_namespace: dict[str, list[Memory]] = {}
    for memory in read_jsonl(export):
        by_namespace.setdefault(memory.namespace or "default", []).append(memory.__class__.from_dict({**memory.to_dict(), "namespace": None}))
    for namespace, memories in by_namespace.items():
        with MemoryStore(path, namespace=namespace, embedder=embedder) as store:
            store.add_many(memories)
        actions.append(f"imported {len(memories)} memories from {export.name} into {namespace!r}")
