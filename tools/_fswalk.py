"""Walking, copying and removing directory trees without recursion and without following symlinks.

Generated code can leave a tree thousands of levels deep in its workspace; Python 3.11's os.walk
and shutil.rmtree recurse once per level and raise RecursionError there, which broke every later
run in that workspace. These walk with an explicit stack instead. Standard library only: the
sandbox's bootstrap imports this file inside the sandbox too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

__all__ = ["copy_tree", "remove_tree", "walk"]


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_MAX_OPEN = 64


def walk(root: str, skip_top: tuple[str, ...] = (), limit: int | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every entry below `root`, parents before children; symlinks
    are reported, never followed. `skip_top` names top-level entries to leave out; the walk
    stops after `limit` entries. Unreadable directories are skipped.

    Directories are opened relative to their parent's descriptor, so a deep tree costs no
    long-path lookups; past a few dozen pending descriptors it falls back to paths."""
    try:
        root_fd = os.open(root, _DIR_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return
    pending: list[tuple[str, int | None]] = [("", root_fd)]
    held = 1
    seen = 0
    try:
        while pending:
            rel, fd = pending.pop()
            if fd is None:
                try:
                    fd = os.open(os.path.join(root, rel), _DIR_FLAGS)
                except OSError:
                    continue
                held += 1
            try:
                with os.scandir(fd) as found:
                    entries = list(found)
                subdirs = []
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
                        subdirs.append((child, entry.name))
                for child, name in subdirs:
                    sub = None
                    if held < _MAX_OPEN:
                        try:
                            sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
                            held += 1
                        except OSError:
                            continue
                    pending.append((child, sub))
            except OSError:
                continue
            finally:
                os.close(fd)
                held -= 1
    finally:
        for _, fd in pending:
            if fd is not None:
                os.close(fd)


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


def copy_tree(source: str, target: str, skip_top: tuple[str, ...] = ()) -> None:
    """Copy what is below `source` into the existing directory `target`: directories, regular
    files (with their mode and times: the copy back compares mtimes) and symlinks as links.
    Plain os calls: the sandbox's bootstrap calls this, where importing shutil costs more than
    the copy."""
    for rel, info in walk(source, skip_top):
        src, dst = os.path.join(source, rel), os.path.join(target, rel)
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISDIR(info.st_mode):
            os.mkdir(dst)
        elif stat.S_ISREG(info.st_mode):
            _copy_file(src, dst, info)


def _copy_file(src: str, dst: str, info: os.stat_result) -> None:
    reader = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        writer = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IMODE(info.st_mode))
        try:
            left = info.st_size
            while left > 0:
                sent = os.sendfile(writer, reader, None, min(left, 1 << 30))
                if sent == 0:
                    break
                left -= sent
            os.utime(writer, ns=(info.st_atime_ns, info.st_mtime_ns))
        finally:
            os.close(writer)
    finally:
        os.close(reader)
