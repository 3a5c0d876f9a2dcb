"""Walking and removing directory trees without recursion and without following symlinks.

Generated code can leave a tree thousands of levels deep in its workspace; Python 3.11's os.walk
and shutil.rmtree recurse once per level and raise RecursionError there, which broke every later
run in that workspace. These walk with an explicit stack instead. Standard library only: the
sandbox's bootstrap imports this file inside the sandbox too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

__all__ = ["remove_tree", "walk"]


def walk(root: str, skip_top: tuple[str, ...] = (), limit: int | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every entry below `root`, parents before children; symlinks
    are reported, never followed. `skip_top` names top-level entries to leave out; the walk
    stops after `limit` entries. Unreadable directories are skipped."""
    pending = [""]
    seen = 0
    while pending:
        rel = pending.pop()
        try:
            entries = list(os.scandir(os.path.join(root, rel) if rel else root))
        except OSError:
            continue
        for entry in entries:
            if not rel and entry.name in skip_top:
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            child = os.path.join(rel, entry.name) if rel else entry.name
            yield child, info
            seen += 1
            if limit is not None and seen >= limit:
                return
            if stat.S_ISDIR(info.st_mode):
                pending.append(child)


def remove_tree(path: str) -> None:
    """Delete `path` and everything below it (a symlink is removed, not followed); missing is fine."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
    except FileNotFoundError:
        return
    stack, emptied = [path], []
    while stack:
        current = stack.pop()
        emptied.append(current)
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue
    for directory in reversed(emptied):
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            continue
