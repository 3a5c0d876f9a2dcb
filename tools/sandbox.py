"""Run untrusted Python code in a separate, limited, confined process.

    result = run_python("print(1 + 1)", workspace="./ws", timeout=30, memory_mb=1024)
    # RunResult(stdout="2\\n", stderr="", exit_code=0, timed_out=False, duration_s=0.04, files=[], ...)

Two layers; which one a run gets is decided at run time (tools/confinement.py) and reported
honestly by `confinement().describe()`:

The kernel layer (Linux, on by default where the kernel allows it). The interpreter starts under
bubblewrap (tools/_kernel_argv.py): new user, mount, PID, network, IPC and UTS namespaces; a
read-only root holding /usr, a few /etc files and the Python installation, no home directory;
the workspace is a tmpfs sized to its contents plus `disk_mb` (the run's total disk quota,
private /tmp included), filled from the real workspace and copied back when the code ends
(tools/_sandbox_sync.py); no network unless `network=True`; a seccomp filter (tools/_seccomp.py);
killed with the assistant (`--die-with-parent`, and everything in the PID namespace with it).

Always, both layers:
- A fresh interpreter (`sys.executable -I -B -u`, isolated mode) in its own session, cwd = the
  workspace (created if missing), which is the *last* entry of sys.path (a planted pandas.py
  cannot shadow pandas). Resource limits set by the bootstrap (tools/_sandbox_child.py):
  RLIMIT_AS (`memory_mb`), RLIMIT_CPU (`cpu_seconds`), RLIMIT_FSIZE (`max_file_bytes`),
  RLIMIT_CORE = 0, a coarse RLIMIT_NPROC.
- A watchdog in this process (tools/_sandbox_watch.py) enforces the wall-clock `timeout`, the
  output cap and a process count (`max_processes`, counted through /proc); on any limit, and
  always when the code ends, the whole process tree is stopped and killed (tools/_proctree.py).
- The environment is rebuilt from an allowlist: PATH, LANG, HOME=workspace, TMPDIR=workspace/.tmp
  (removed afterwards), XDG_CACHE_HOME and MPLCONFIGDIR under workspace/.cache (kept; not
  reported in `files`), plus what `env=` adds. API keys in this process never reach the code.
- Temp dirs of runs whose assistant died are removed by the next run's process; walking and
  removing trees never recurses (tools/_fswalk.py), so a very deep tree breaks nothing.

The audit-hook layer, only when the kernel layer is unavailable (or `sandbox="hook"`): a hook
(`sys.addaudithook`) installed before the code refuses writes outside the workspace, reads of
credentials and other processes' /proc entries, process creation, signals to others. It lives in
the same interpreter as the code, so the code can switch it off: a seatbelt against careless
code, not a boundary. The README says per platform what is and is not guaranteed.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools._fswalk import remove_tree, walk
from tools._proctree import descendants, kill_tree, members, stop_tree
from tools._sandbox_setup import BWRAP_PROCESSES, CACHE_NAME, TMP_NAME, command, environment, write_config
from tools._sandbox_sync import copy_out, namespace_root
from tools._sandbox_watch import KilledReason, Watch
from tools.confinement import Confinement, resolve
from tools.errors import SandboxError

__all__ = ["KilledReason", "RunResult", "run_python"]

_MAX_SNAPSHOT = 20_000
_RUN_PREFIX = "throughline-run-"
# Tests turn the audit hook off to exercise the process-level guards (watchdog, killpg) alone.
_AUDIT_HOOK = True
_reaped = False


@dataclass(frozen=True)
class RunResult:
    """What a sandboxed run produced. `exit_code` is negative (-signal) when the process was
    killed; `killed_reason` says which limit ended it, or None if it ended on its own."""

    stdout: str
    stderr: str
    exit_code: int
    timed_out: bool
    duration_s: float
    files: list[str] = field(default_factory=list)
    truncated: bool = False
    killed_reason: KilledReason | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.killed_reason is None


def run_python(
    code: str,
    *,
    workspace: str | os.PathLike[str],
    timeout: float = 30,
    memory_mb: int = 1024,
    cpu_seconds: int | None = None,
    max_output_bytes: int = 1_000_000,
    max_file_bytes: int = 100_000_000,
    max_processes: int = 16,
    disk_mb: int = 1024,
    network: bool | None = None,
    sandbox: str | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> RunResult:
    """Run `code` in a limited child interpreter with the workspace as cwd; see the module doc.
    `sandbox` ("auto", "kernel", "hook") and `network` default to tools.confinement.configure's.

    Never raises for anything the code does; raises SandboxError if the process cannot be
    started (workspace not creatable, interpreter missing) or the kernel sandbox is required
    and missing."""
    if min(timeout, memory_mb, max_output_bytes, max_file_bytes, max_processes, disk_mb) <= 0:
        raise ValueError("timeout, memory_mb, max_output_bytes, max_file_bytes, max_processes and disk_mb "
                         "must be positive")
    level, network = resolve(sandbox, network)
    root = _workspace(workspace)
    _reap_stale_runs()
    cpu = int(cpu_seconds if cpu_seconds is not None else timeout + 5)
    limits = {"memory_bytes": int(memory_mb) * 1024 * 1024, "cpu_seconds": max(1, cpu),
              "file_bytes": int(max_file_bytes), "max_processes": int(max_processes)}
    run = _Run(root, level)
    private = Path(tempfile.mkdtemp(prefix=f"{_RUN_PREFIX}{os.getpid()}-"))
    status_r, status_w = os.pipe()
    lifeline_r, lifeline_w = os.pipe()  # the write end never leaves this process
    fds: list[int] = []
    try:
        write_config(private, code, root, limits=limits, status_fd=status_w, lifeline_fd=lifeline_r, kernel=run.kernel,
                     audit=_AUDIT_HOOK and not run.kernel)
        argv, fds = command(level, root, private, run.quota_bytes(disk_mb), network)
        if not run.kernel:
            remove_tree(str(root / TMP_NAME))
            (root / TMP_NAME).mkdir()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv, cwd=root, env=environment(root, env), start_new_session=True, close_fds=True,
                pass_fds=(status_w, lifeline_r, *fds), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise SandboxError(f"cannot start {argv[0]}: {exc}") from exc
        os.close(status_w)
        os.close(lifeline_r)
        status_w = lifeline_r = -1
        watch = Watch(proc, timeout, max_output_bytes, max_processes, stdin, run.known, status_r,
                      lambda: run.finish(proc.pid, watch.read_rest(status_r)), BWRAP_PROCESSES if run.kernel else 0,
                      run.tree)
        try:
            watch.run()
        finally:
            watch.end()
            run.kill(proc.pid)
            proc.wait()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None and not pipe.closed:
                    pipe.close()
        duration = time.monotonic() - start
        watch.read_rest(status_r)
    finally:
        for fd in (status_r, status_w, lifeline_r, lifeline_w, *fds):
            if fd >= 0:
                os.close(fd)
        remove_tree(str(private))
        if not run.kernel:
            remove_tree(str(root / TMP_NAME))
    returncode = watch.exit_code() if run.kernel else None
    return _result(proc.returncode if returncode is None else returncode, watch, duration, cpu,
                   _changed(root, run.before), run.problems)


class _Run:
    """One run's state on this side: the workspace before, the processes seen, how it ends."""

    def __init__(self, root: Path, level: Confinement) -> None:
        self.root, self.kernel = root, level.processes
        # Under the kernel layer .cache is copied in and out too; `files` leaves it out.
        self.synced = _snapshot(root, (TMP_NAME,)) if self.kernel else {}
        self.before = ({k: v for k, v in self.synced.items() if not k.startswith(CACHE_NAME + os.sep)}
                       if self.kernel else _snapshot(root))
        self.known: dict[int, int] = {}
        self.problems: list[str] = []
        # In the PID namespace nothing leaves the tree, so reading the tree itself is enough.
        self.tree = descendants if self.kernel else members

    def quota_bytes(self, disk_mb: int) -> int:
        """The tmpfs holds the workspace as it is plus `disk_mb`, in whole pages."""
        used = sum(-(-size // 4096) * 4096 for _, size in self.synced.values())
        return used + int(disk_mb) * 1024 * 1024 + 1024 * 1024

    def finish(self, leader: int, status: bytes) -> None:
        """Freeze the tree, copy the sandbox's workspace out (kernel layer), then kill it all.
        Nothing is copied unless the bootstrap said the whole workspace had been copied in:
        a partial copy would look like deletions."""
        if self.kernel:
            view = namespace_root(stop_tree(leader, self.known, self.tree))
            if b"ready" not in status:
                self.problems.append("the run ended before its workspace was set up; nothing was copied back")
            elif view is None:
                self.problems.append("the sandbox ended before its files could be copied out; "
                                     "changes to the workspace in this run are lost")
            else:
                self.problems += copy_out(view + str(self.root), self.root, self.synced, (TMP_NAME,), _MAX_SNAPSHOT)
        self.kill(leader)

    def kill(self, leader: int) -> None:
        if not self.kernel:
            return kill_tree(leader, self.known)
        for pid in descendants(leader, self.known):  # all stopped: none can fork meanwhile
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue


def _reap_stale_runs() -> None:
    """Remove the private dirs of runs whose assistant process died (once per process)."""
    global _reaped
    if _reaped:
        return
    _reaped = True
    base = Path(tempfile.gettempdir())
    for path in base.glob(f"{_RUN_PREFIX}*"):
        if not os.path.lexists(path):
            continue  # another process reaped it meanwhile
        owner = path.name[len(_RUN_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and not Path(f"/proc/{owner}").exists():
            remove_tree(str(path))
        elif not owner.isdigit() and time.time() - os.lstat(path).st_mtime > 3600:
            remove_tree(str(path))  # the old naming, without a pid: gone if an hour old


def _workspace(workspace: str | os.PathLike[str]) -> Path:
    path = Path(workspace).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SandboxError(f"cannot create the workspace {str(path)!r}: {exc.strerror}") from exc
    return path.resolve()


def _snapshot(root: Path, skip: tuple[str, ...] = (TMP_NAME, CACHE_NAME)) -> dict[str, tuple[int, int]]:
    """{relative path: (mtime_ns, size)} of the workspace's files (symlinks included, not followed)."""
    return {rel: (info.st_mtime_ns, info.st_size) for rel, info in walk(str(root), skip, _MAX_SNAPSHOT)
            if not stat.S_ISDIR(info.st_mode)}


def _changed(root: Path, before: dict[str, tuple[int, int]]) -> list[str]:
    after = _snapshot(root)
    return sorted(Path(rel).as_posix() for rel, sig in after.items() if before.get(rel) != sig)


def _result(returncode: int, watch: Watch, duration: float, cpu: int, files: list[str],
            problems: list[str]) -> RunResult:
    reason = watch.reason
    notes = [f"sandbox: {p}" for p in problems[:5]]
    if reason is None and b"memory" in watch.status:
        reason = "memory"
    elif reason is None and returncode == -signal.SIGXCPU:
        reason = "cpu"
        notes.append(f"sandbox: killed after {cpu} s of CPU time (cpu_seconds limit)")
    elif reason is None and returncode == -signal.SIGKILL:
        notes.append("sandbox: the process was killed by SIGKILL from outside the sandbox "
                     "(possibly the system's out-of-memory killer)")
    if reason == "timeout":
        notes.append(f"sandbox: killed after the {watch.timeout:g} s timeout")
    elif reason == "output":
        notes.append(f"sandbox: output passed {watch.max_output} bytes; the process was killed and the output cut")
    elif reason == "processes":
        notes.append(f"sandbox: more than {watch.max_processes} processes; the process group was killed")
    stderr = watch.text("stderr")
    if notes:
        stderr += ("" if not stderr or stderr.endswith("\n") else "\n") + "\n".join(notes) + "\n"
    return RunResult(stdout=watch.text("stdout"), stderr=stderr, exit_code=returncode,
                     timed_out=reason == "timeout", duration_s=round(duration, 4), files=files,
                     truncated=watch.truncated, killed_reason=reason)
