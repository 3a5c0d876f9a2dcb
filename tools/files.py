"""File tools confined to a workspace directory.

    read_file("notes/a.txt", workspace=ws)           # text, capped at MAX_READ_BYTES
    write_file("notes/a.txt", "hello", workspace=ws)   # "wrote 5 bytes to notes/a.txt"
    list_files(workspace=ws)                           # ["notes/a.txt", ...]

`workspace` is an injected parameter: a model never chooses it. In the registry these tools are
unbound; a chain binds them with `registry.get("read_file").bind(workspace=ws)`.

Every path is resolved (symlinks followed, ".." collapsed) and must land inside the resolved
workspace; an absolute path is accepted only if it does. Files are opened with O_NOFOLLOW on
the resolved path. What this does not cover: a concurrent process swapping a checked directory
for a symlink between the check and the open (a TOCTOU race) — the workspace is assumed to be
written only by this user's own tools.
"""

from __future__ import annotations

import codecs
import os
import stat
import tempfile
from pathlib import Path

from tools.base import tool
from tools.errors import WorkspaceError

__all__ = ["MAX_LIST", "MAX_READ_BYTES", "MAX_WRITE_BYTES", "list_files", "read_file",
           "resolve_in_workspace", "write_file"]

MAX_READ_BYTES = 256_000
MAX_WRITE_BYTES = 10_000_000
MAX_LIST = 1_000
_SNIFF = 8192


def _root(workspace: str | os.PathLike[str], *, create: bool = False) -> Path:
    root = Path(workspace).expanduser()
    if create:
        root.mkdir(parents=True, exist_ok=True)
    if not root.is_dir():
        raise WorkspaceError(f"workspace {str(root)!r} does not exist or is not a directory")
    return root.resolve(strict=True)


def resolve_in_workspace(path: str | os.PathLike[str], workspace: str | os.PathLike[str]) -> Path:
    """The resolved absolute path of `path` (relative to the workspace), or WorkspaceError if
    it is empty, has a NUL byte, or resolves outside the workspace."""
    return _resolve(path, _root(workspace))


def _resolve(path: str | os.PathLike[str], root: Path) -> Path:
    raw = os.fspath(path)
    if not raw.strip():
        raise WorkspaceError("empty path")
    if "\x00" in raw:
        raise WorkspaceError("path contains a NUL byte")
    candidate = Path(raw)
    absolute = candidate.is_absolute()
    if not absolute:
        candidate = root / candidate
    resolved = candidate.resolve(strict=False)
    if resolved == root or resolved.is_relative_to(root):
        return resolved
    lexical = Path(os.path.normpath(candidate))
    if absolute and not lexical.is_relative_to(root):
        why = "is an absolute path outside the workspace"
    elif lexical == root or lexical.is_relative_to(root):
        why = "leads outside the workspace through a symlink"
    else:
        why = "escapes the workspace with '..'"
    raise WorkspaceError(f"{raw!r} {why}; use a path relative to the workspace")


def _relative(resolved: Path, root: Path) -> str:
    return resolved.relative_to(root).as_posix()


@tool(injected=("workspace",))
def read_file(path: str, workspace: str | Path) -> str:
    """Read a text file from the workspace (long files are cut, with a note saying so).

    Args:
        path: the file's path relative to the workspace.
    """
    root = _root(workspace)
    resolved = _resolve(path, root)
    rel = _relative(resolved, root)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; a
        # regular file ignores it (checked below before any read).
        fd = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise WorkspaceError(f"{rel!r} does not exist in the workspace") from None
    except OSError as exc:
        raise WorkspaceError(f"cannot open {rel!r}: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise WorkspaceError(f"{rel!r} is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_READ_BYTES + 1)
    truncated = len(data) > MAX_READ_BYTES
    data = data[:MAX_READ_BYTES]
    if b"\x00" in data[:_SNIFF]:
        raise WorkspaceError(f"{rel!r} looks binary ({info.st_size} bytes); the file tools read text only")
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=not truncated)
    except UnicodeDecodeError:
        raise WorkspaceError(f"{rel!r} is not UTF-8 text ({info.st_size} bytes); the file tools read text only") from None
    if truncated:
        text += f"\n[... truncated: {rel} is {info.st_size} bytes; showing the first {MAX_READ_BYTES}]"
    return text


@tool(injected=("workspace",))
def write_file(path: str, content: str, workspace: str | Path) -> str:
    """Write a text file in the workspace, creating folders as needed; replaces an existing file.

    Args:
        path: the file's path relative to the workspace.
        content: the full text to write.
    """
    root = _root(workspace, create=True)
    resolved = _resolve(path, root)
    rel = _relative(resolved, root)
    data = content.encode("utf-8")
    if len(data) > MAX_WRITE_BYTES:
        raise WorkspaceError(f"content is {len(data)} bytes; the limit is {MAX_WRITE_BYTES}")
    if resolved == root or resolved.is_dir():
        raise WorkspaceError(f"{rel or '.'!r} is a directory")
    resolved.parent.mkdir(parents=True, exist_ok=True)
    # Re-check after creating folders: a racing symlink must not move us outside.
    resolved = _resolve(resolved, root)
    fd, tmp = tempfile.mkstemp(dir=resolved.parent, prefix=f".{resolved.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, resolved)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return f"wrote {len(data)} bytes to {rel}"


@tool(injected=("workspace",))
def list_files(workspace: str | Path) -> list[str]:
    """List the files in the workspace (relative paths, sorted; symlinks are not followed).

    Past MAX_LIST files the last entry is a note saying how many were left out.
    """
    root = _root(workspace)
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in filenames:
            full = Path(dirpath, name)
            if not full.is_symlink():
                found.append(full.relative_to(root).as_posix())
    found.sort()
    if len(found) > MAX_LIST:
        left_out = len(found) - MAX_LIST
        found = found[:MAX_LIST] + [f"[... {left_out} more files not listed]"]
    return found
