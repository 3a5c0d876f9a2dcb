"""Managing threads: rename, delete and fork a session (its record, workspace and artifacts).

Kept apart from sessions.py, which is the turn loop's working memory: these run only when a person
asks. Long-term memories keep the session name they were stored with; `delete(..., memories=store)`
forgets the session's memories too, which only happens when the person asks for it.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import DataDirError, InputError
from assistant.sessions import Session, SessionStore

if TYPE_CHECKING:
    from memory import MemoryStore


def rename(store: SessionStore, old: str, new: str) -> Session:
    """The session `old` saved as `new`, its workspace moved and artifact paths updated."""
    new = new.strip()
    if not new:
        raise InputError("a session needs a name")
    if new == old:
        return store.load(old)
    if store.exists(new):
        raise InputError(f"a session named {new!r} already exists; pick another name")
    session = store.load(old)
    moved = _move_workspace(store, old, new)
    session = replace(session, name=new, artifacts=[_rebased(a, moved) for a in session.artifacts])
    store.save(session)
    store.delete(old)
    return session


def delete(store: SessionStore, name: str, *, memories: MemoryStore | None = None) -> int:
    """Delete the session's record and workspace; with `memories`, forget its long-term memories
    too. Returns how many memories were forgotten."""
    forgotten = 0
    if memories is not None:
        ids = [m.id for m in memories.all() if m.session == name]
        forgotten = memories.delete(ids) if ids else 0
    workspace = store.workspaces / store.workspace(name).name
    shutil.rmtree(workspace, ignore_errors=True)
    store.delete(name)
    return forgotten


def fork(store: SessionStore, name: str, at_turn: int, new: str) -> Session:
    """A new session `new` holding turns 0..`at_turn` of `name` and the artifacts made up to then
    (their files copied into the fork's workspace, so the two threads never share a file)."""
    source = store.load(name)
    if not 0 <= at_turn < len(source.turns):
        raise InputError(f"session {name!r} has no turn {at_turn + 1}")
    if store.exists(new):
        raise InputError(f"a session named {new!r} already exists; pick another name")
    turns = [replace(t, events=list(t.events)) for t in source.turns[: at_turn + 1]]
    made = {e["artifact"]["id"] for t in turns for e in t.events if e.get("event") == "ArtifactSaved"}
    cutoff = turns[-1].created_at
    kept = [a for a in source.artifacts if a.id in made or (not made and a.created_at <= cutoff)]
    old_ws, new_ws = store.workspace(name), store.workspace(new)
    artifacts = []
    for artifact in kept:
        path = Path(artifact.path) if artifact.path else None
        if path is not None and path.is_file() and _inside(path, old_ws):
            target = new_ws / path.resolve().relative_to(old_ws.resolve())
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            artifact = replace(artifact, path=str(target))
        artifacts.append(artifact)
    forked = Session(name=new, user=source.user, current_route=turns[-1].route, turns=turns,
                     artifacts=artifacts, summarized_through="")
    store.save(forked)
    return forked


def free_name(store: SessionStore, base: str) -> str:
    """`base`, or `base 2`, `base 3`… — the first name no session has yet."""
    name, n = base, 1
    while store.exists(name):
        n += 1
        name = f"{base} {n}"
    return name


def _move_workspace(store: SessionStore, old: str, new: str) -> tuple[Path, Path] | None:
    source = store.workspaces / store.workspace(old).name
    target = store.workspaces / store.workspace(new).name
    if source == target:
        return None
    try:
        target.rmdir()  # just created, empty
        source.rename(target)
    except OSError as exc:
        raise DataDirError(f"cannot move the workspace {source}: {exc.strerror or exc}") from None
    return source, target


def _rebased(artifact, moved: tuple[Path, Path] | None):
    if moved is None or not artifact.path or not _inside(Path(artifact.path), moved[0]):
        return artifact
    return replace(artifact, path=str(moved[1] / Path(artifact.path).resolve().relative_to(moved[0].resolve())))


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True
