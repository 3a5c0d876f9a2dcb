"""Keeping what confined code wrote: copying its workspace tmpfs back into the real workspace.

The confined code writes to a size-limited tmpfs that exists only in the sandbox's mount
namespace. When the code ends (or hits a limit) the watchdog stops every process in the sandbox,
reads that tmpfs through /proc/PID/root while they are frozen, and copies new or changed regular
files into the real workspace and removes the files the code deleted. Symlinks, FIFOs and device
nodes are not copied out; nothing is ever followed through a symlink on either side, so a link
planted in the sandbox cannot make this process read or write outside the workspace.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from tools._fswalk import remove_tree, walk

__all__ = ["copy_out", "namespace_root"]

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def namespace_root(pids: list[int]) -> str | None:
    """/proc/PID/root of a process in another mount namespace than ours (the sandbox's), if any."""
    try:
        ours = os.readlink("/proc/self/ns/mnt")
    except OSError:
        return None
    for pid in sorted(pids):
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") != ours:
                return f"/proc/{pid}/root"
        except OSError:
            continue  # gone, or not ours to look at
    return None


def copy_out(view: str, workspace: Path, before: dict[str, tuple[int, int]], skip_top: tuple[str, ...],
             limit: int) -> list[str]:
    """Mirror `view` (the sandbox's workspace seen from here) into `workspace`; return problems."""
    problems: list[str] = []
    seen: set[str] = set()
    safe_dirs: set[str] = {""}
    for rel, info in walk(view, skip_top, limit + 1):
        seen.add(rel)
        try:
            if stat.S_ISDIR(info.st_mode):
                _make_dir(workspace, rel, safe_dirs)
            elif stat.S_ISREG(info.st_mode) and before.get(rel) != (info.st_mtime_ns, info.st_size):
                _copy_file(os.path.join(view, rel), workspace, rel, info, safe_dirs)
        except OSError as exc:
            problems.append(f"{rel}: {exc.strerror or exc}")
    if len(seen) > limit:
        # Only a complete walk tells what the code deleted; never delete on a partial one.
        return problems + [f"more than {limit} files in the workspace: deletions were not copied out"]
    for rel in sorted(set(before) - seen, reverse=True):
        if rel.split(os.sep, 1)[0] in skip_top:
            continue
        try:
            parent = os.path.dirname(rel)
            _make_dir(workspace, parent, safe_dirs, create=False)
            os.unlink(os.path.join(workspace, rel))
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append(f"{rel}: {exc.strerror or exc}")
    return problems


def _make_dir(workspace: Path, rel: str, safe_dirs: set[str], create: bool = True) -> None:
    """Make sure every component of `rel` under the workspace is a real directory (a symlink in
    the way is replaced when creating, refused otherwise). Checked once per directory per run."""
    missing = []
    while rel not in safe_dirs:
        missing.append(rel)
        rel = os.path.dirname(rel)
    for rel in reversed(missing):
        path = os.path.join(workspace, rel)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(path)
            mode = stat.S_IFDIR
        if not stat.S_ISDIR(mode):
            if not create:
                raise NotADirectoryError(0, "not a directory", path)
            os.unlink(path)
            os.mkdir(path)
        safe_dirs.add(rel)


def _copy_file(source: str, workspace: Path, rel: str, info: os.stat_result, safe_dirs: set[str]) -> None:
    _make_dir(workspace, os.path.dirname(rel), safe_dirs)
    target = os.path.join(workspace, rel)
    try:
        if stat.S_ISDIR(os.lstat(target).st_mode):
            remove_tree(target)  # a directory the code replaced by a file
    except FileNotFoundError:
        pass
    src = os.open(source, _READ_FLAGS)
    try:
        try:
            dst = os.open(target, _WRITE_FLAGS, 0o600)
        except OSError:
            os.unlink(target)  # a symlink or special file where the file goes: replace it
            dst = os.open(target, _WRITE_FLAGS, 0o600)
        try:
            with open(src, "rb", closefd=False) as reader, open(dst, "wb", closefd=False) as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
            os.fchmod(dst, stat.S_IMODE(info.st_mode) & 0o755 | 0o600)
            os.utime(dst, ns=(info.st_atime_ns, info.st_mtime_ns))
        finally:
            os.close(dst)
    finally:
        os.close(src)
