"""The checks `memory doctor` runs on an embedded memory dir, each returning problems as lines a
person can read: the dir's lock, Chroma's sqlite database, every collection (probed in a child
process, so a Chroma crash cannot take the caller down), every journal, and whether the journal
and Chroma hold the same ids per namespace."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from memory.embedded import journal_namespaces
from memory.journal import JOURNAL_DIR, Journal, replay
from memory.records import Memory

PROBE_TIMEOUT_S = 120


def check(path: Path) -> tuple[list[str], list[str]]:
    problems: list[str] = []
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


def journal_counts(path: Path) -> dict[str, int]:
    names = journal_namespaces(path)
    counts = {}
    for file in sorted((path / JOURNAL_DIR).glob("*.jsonl")):
        state = replay(Journal(file).read(0).records)
        counts[names.get(file.name, file.stem)] = sum(m is not None for m in state.values())
    return counts
