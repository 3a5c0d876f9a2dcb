"""`doctor(path)`: check an embedded memory dir and, with `repair=True`, fix it.

    report = doctor("~/.local/share/throughline/memory")            # check only
    report = doctor(path, repair=True)                               # rebuild beside, verify, swap
    print(report)                                                    # one line per finding

First, what the disk allows (`memory.disk.condition`): a store that is missing, on a read-only
disk or on a full disk is reported as exactly that, and never "repaired": a full disk makes a
healthy Chroma fail to open, and moving it then would only lose it.

Checks: the dir is a dir and not in use; Chroma's database reads and passes sqlite's
quick_check; every collection opens and answers a query (probed in a child process, so a Chroma
crash cannot take the caller down); every journal reads (torn tails, unreadable records); the
journal and Chroma hold the same ids per namespace.

Repair of a broken Chroma never moves a store it has not rebuilt: a new store is built beside it
(`<path>.rebuild-<time>`) from copies of its journals, re-embedding every memory, with `exports`
(JSON Lines from `export_jsonl`) imported on top; it is checked (no problem left, every journaled
memory present); only then is the broken store renamed to `<path>.broken-<time>` (nothing is
ever deleted) and the new one renamed into its place. A failure anywhere before the swap removes
the half-built copy and leaves the store as it was; a failed swap is rolled back. A healthy
Chroma that merely disagrees with its journal is reconciled in place (replayed, or adopted into
the journal). Torn journal tails are cut.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

from memory import disk, transfer
from memory.checks import check, journal_counts, probe
from memory.embedded import journal_namespaces
from memory.errors import MemoryStoreError
from memory.journal import JOURNAL_DIR, Journal
from memory.records import Memory

__all__ = ["DoctorReport", "doctor", "probe"]


@dataclass(frozen=True)
class DoctorReport:
    """What `doctor` found and did. `healthy` is True when no problem is left. `condition` names
    what stops any check or repair: "missing", "not a dir", "read-only" or "disk full"."""

    path: Path
    healthy: bool
    problems: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    namespaces: dict[str, int] = field(default_factory=dict)
    moved_to: Path | None = None
    condition: str | None = None

    def __str__(self) -> str:
        lines = [f"memory store {self.path}: {'healthy' if self.healthy else 'NEEDS ATTENTION'}"]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  done: {a}" for a in self.actions]
        lines += [f"  namespace {ns!r}: {n} memories" for ns, n in sorted(self.namespaces.items())]
        if self.moved_to is not None:
            lines.append(f"  the broken store is kept at {self.moved_to}")
        if self.condition is None and not self.healthy and not self.actions:
            lines.append("  run `assistant memory doctor --repair` to rebuild the store from its journal")
        return "\n".join(lines)


_CONDITIONS = {
    "missing": "there is no memory store at {path} (check --data-dir; the assistant creates one on first use)",
    "not a dir": "{path} is a file, not a memory dir; move it aside or pick another --data-dir",
    "read-only": (
        "{path} is on a read-only disk: its memories can still be searched and exported "
        "(`assistant memory export FILE`), but it cannot be checked in full or repaired until it is writable"
    ),
    "disk full": (
        "the disk holding {path} is full ({free} free): free some space, then run `assistant memory doctor` "
        "again; nothing was changed (a full disk also makes a sound store fail to open, so do not move it)"
    ),
}


def doctor(
    path: str | os.PathLike[str], *, repair: bool = False, embedder=None, exports: Iterable[str | os.PathLike[str]] = ()
) -> DoctorReport:
    """Check the embedded memory store at `path`; with `repair`, fix what can be fixed."""
    path = Path(path).expanduser().resolve()
    condition = disk.condition(path)
    if condition is not None:
        free = _size(disk.free_bytes(path)) if path.exists() else "?"
        namespaces = journal_counts(path) if condition in ("read-only", "disk full") else {}
        return DoctorReport(path, False, (_CONDITIONS[condition].format(path=path, free=free),),
                            namespaces=namespaces, condition=condition)
    problems, actions = check(path)
    moved: Path | None = None
    if repair and (problems or exports):
        moved, failed = _repair(path, problems, actions, embedder, list(exports))
        problems = failed or check(path)[0]
    namespaces = journal_counts(path) if path.is_dir() else {}
    return DoctorReport(path, not problems, tuple(problems), tuple(actions), namespaces, moved)


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB"


# -- repair ---------------------------------------------------------------------------------------


_BROKEN = ("not a readable database", "quick_check", "Chroma cannot open", "not a Chroma memory store")


def _repair(
    path: Path, problems: list[str], actions: list[str], embedder, exports: list
) -> tuple[Path | None, list[str]]:
    """(where the broken store was moved, the problems left when the repair could not be done)."""
    from memory.store import MemoryStore

    if any("in use by another process" in p for p in problems):
        return None, problems
    if any(key in p for p in problems for key in _BROKEN):
        return _rebuild_beside(path, actions, embedder, exports)
    for file in sorted((path / JOURNAL_DIR).glob("*.jsonl")):
        journal = Journal(file)
        tail = journal.read(0)
        if tail.problems or tail.end < file.stat().st_size:
            journal.rewrite(tail.records)  # drops unreadable lines and a torn tail (a temp file, then a rename)
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
    return None, []


class _NotRebuilt(Exception):
    """The copy built beside a broken store is not good enough to replace it."""


def _rebuild_beside(path: Path, actions: list[str], embedder, exports: list) -> tuple[Path | None, list[str]]:
    """Build a new store from copies of the journals beside `path`, verify it, swap it in."""
    from memory.store import MemoryStore

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    journals = path / JOURNAL_DIR
    need = 3 * transfer.dir_size(journals) + disk.MIN_FREE_BYTES if journals.is_dir() else disk.MIN_FREE_BYTES
    free = disk.free_bytes(path.parent)
    if free < need:
        return None, [
            f"not enough free space to rebuild the store beside it (about {_size(need)} needed, {_size(free)} free); "
            "free some space and run the repair again — nothing was changed"
        ]
    # A fresh name each time: Chroma caches a client per path in the process, a failed one too.
    scratch = path.with_name(f"{path.name}.rebuild-{stamp}-{uuid.uuid4().hex[:6]}")
    built = False
    try:
        scratch.mkdir()
        if journals.is_dir():
            shutil.copytree(journals, scratch / JOURNAL_DIR, ignore=shutil.ignore_patterns("*.ckpt", "*.snapshot", "*.tmp*"))
        expected = journal_counts(path)
        names = journal_namespaces(scratch)
        for file in sorted((scratch / JOURNAL_DIR).glob("*.jsonl")):
            journal = Journal(file)
            journal.rewrite(journal.read(0).records)  # without unreadable lines and a torn tail
            if file.name in names:
                with MemoryStore(scratch, namespace=names[file.name], embedder=embedder) as store:
                    with store._log.locked():
                        store._sync.rebuild()
        for export in exports:
            _import(MemoryStore, scratch, Path(export), embedder, actions)
        left, _ = check(scratch)
        got = journal_counts(scratch)
        short = {ns: n for ns, n in expected.items() if got.get(ns, 0) < n}
        if left or short:
            raise _NotRebuilt("; ".join(left) or f"memories missing from the rebuilt copy: {short}")
        built = True
    except Exception as exc:  # reported below; Chroma fails on a full disk with ValueError, AttributeError, ...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        return None, [f"the repair could not rebuild the store ({reason}); the store was left as it was — nothing moved"]
    finally:
        if not built:
            shutil.rmtree(scratch, ignore_errors=True)  # only our half-built copy; the store is untouched
    moved = path.with_name(f"{path.name}.broken-{stamp}")
    os.replace(path, moved)
    try:
        os.replace(scratch, path)
    except OSError as exc:
        os.replace(moved, path)  # roll back: the broken store stays where it was
        return None, [f"could not swap the rebuilt store in ({exc.strerror or exc}); the store was left as it was; "
                      f"the rebuilt copy is at {scratch}"]
    actions.append(f"rebuilt the store beside it from its journals, verified it and swapped it in: {journal_counts(path)}")
    actions.append(f"moved the broken store aside to {moved}")
    return moved, []


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
