"""Finding and killing a sandboxed child's whole process tree through /proc (Linux).

The tree is: the child, everything in its session or process group, every process seen there
before (remembered by pid and start time, so a reused pid is never hit), and every descendant of
those. Without /proc (not Linux) it is empty and only the process-group kill remains.
"""

from __future__ import annotations

import os
import signal
import time
from typing import NamedTuple

__all__ = ["descendants", "kill_tree", "members", "stop_tree"]


class _Proc(NamedTuple):
    ppid: int
    pgid: int
    sid: int
    start: int  # start time in clock ticks: tells a recorded pid from a reused one


def _proc_stat(pid: int) -> _Proc | None:
    """A live process's parent, group, session and start time; None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None  # a zombie holds nothing; its parent (or init) reaps it
    return _Proc(int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))


def _all_processes() -> dict[int, _Proc]:
    table: dict[int, _Proc] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if entry.isdigit():
            info = _proc_stat(int(entry))
            if info is not None:
                table[int(entry)] = info
    return table


def members(leader: int, known: dict[int, int], table: dict[int, _Proc] | None = None) -> dict[int, int]:
    """{pid: start} of the child, everything in its session or process group, every process
    seen in the tree before (`known`, matched by start time), and every descendant of those.
    The child is a child subreaper, so orphans of its descendants stay below it while it lives."""
    table = _all_processes() if table is None else table
    tree = {pid for pid, p in table.items() if leader in (pid, p.sid, p.pgid) or known.get(pid) == p.start}
    grew = True
    while grew:
        below = {pid for pid, p in table.items() if p.ppid in tree} - tree
        tree |= below
        grew = bool(below)
    return {pid: table[pid].start for pid in tree}


def descendants(leader: int, known: dict[int, int] | None = None) -> dict[int, int]:
    """{pid: start} of `leader` and everything below it, read through /proc/PID/task/TID/children,
    so only the tree itself is read. Enough where nothing can leave the tree (the kernel
    sandbox's PID namespace); falls back to the full scan of `members` without that file."""
    if not os.path.exists(f"/proc/{leader}/task/{leader}/children"):
        return members(leader, known or {})
    found: dict[int, int] = {}
    pending = [leader]
    while pending:
        pid = pending.pop()
        info = _proc_stat(pid)
        if info is None or pid in found:
            continue
        found[pid] = info.start
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in threads:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                    pending.extend(int(child) for child in handle.read().split())
            except OSError:
                continue
    return found


def _signal_all(pids, sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # exited meanwhile


def stop_tree(leader: int, known: dict[int, int], tree=members) -> list[int]:
    """Freeze every member (twice, for what forked meanwhile) and return their pids: the
    sandbox's files are copied out while nothing in it can run. `tree` finds the members."""
    found: dict[int, int] = {}
    for _ in range(2):
        found = tree(leader, known)
        known.update(found)
        _signal_all(found, signal.SIGSTOP)
    return list(found)


def kill_tree(leader: int, known: dict[int, int]) -> None:
    """Stop every member (so none can fork on), then SIGKILL them all and the process group."""
    for sig in (signal.SIGSTOP, signal.SIGKILL, signal.SIGKILL):
        found = members(leader, known)
        known.update(found)
        _signal_all(found, sig)
        if sig == signal.SIGKILL:
            try:
                os.killpg(leader, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass  # the group is already empty
            if not found:
                return
            time.sleep(0.005)
