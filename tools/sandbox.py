"""Run untrusted Python code in a separate, limited process.

    result = run_python("print(1 + 1)", workspace="./ws", timeout=30, memory_mb=1024)
    # RunResult(stdout="2\\n", stderr="", exit_code=0, timed_out=False, duration_s=0.04, files=[], ...)

What it does
- A fresh interpreter (`sys.executable -I -B -u`, isolated mode: no PYTHON* variables, no user
  site, no script dir on sys.path) in its own session and process group, cwd = the workspace
  (created if missing), which is also sys.path[0]. The code goes through a private temp dir.
- Resource limits set by the bootstrap (tools/_sandbox_child.py) before the code runs:
  RLIMIT_AS (`memory_mb`), RLIMIT_CPU (`cpu_seconds`), RLIMIT_FSIZE (`max_file_bytes`),
  RLIMIT_CORE = 0, and a coarse RLIMIT_NPROC.
- A watchdog in this process enforces the wall-clock `timeout`, the output cap (stdout and stderr
  are read incrementally; past `max_output_bytes` reading stops and the process is killed, so a
  flood never sits in memory) and a process count (`max_processes`, counted through /proc,
  because RLIMIT_NPROC does nothing for root). The child is a child subreaper, so orphaned
  descendants stay below it. On any limit, and always when the code ends, everything in the
  child's session, process group or below it — and every process the watchdog saw there — is
  stopped, then killed with SIGKILL, so no grandchild outlives the call.
- The environment is rebuilt from an allowlist: PATH, LANG, HOME=workspace, TMPDIR=workspace/.tmp
  (removed afterwards), XDG_CACHE_HOME and MPLCONFIGDIR under workspace/.cache (kept, so font
  caches survive; not reported in `files`), PYTHONDONTWRITEBYTECODE, PYTHONIOENCODING, plus what
  `env=` adds. No inherited variable reaches the code: API keys in this process stay here.
- Defence in depth, not a security boundary: an audit hook (`sys.addaudithook`) installed before
  the code refuses, with PermissionError("sandbox: ..."): writes, deletes, renames, chmods
  outside the workspace; reads in credential folders (~/.ssh, ~/.aws, ...), in the user's home
  outside the workspace, and of other processes' /proc entries (their environ holds secrets);
  os.system, subprocess, os.exec*, os.fork, os.posix_spawn, pty; signals to other processes;
  changing rlimits; the obvious libc functions through ctypes; gc introspection.

What it does NOT protect against — say so to anyone relying on it
- It is not a container: no namespaces, no seccomp, no chroot. The code runs as the calling user
  (tests and many containers: root) and can read any file that user can read outside the home
  (e.g. /etc, other projects, and as root /etc/shadow).
- The network is not blocked: the code can open sockets and send data anywhere.
- The audit hook lives in the same interpreter as the code. ctypes (beyond the denied symbol
  names), native extensions, or a memory-corruption trick can switch it off; its checks also
  race with symlinks changed between check and use. Treat it as a seatbelt against mistakes
  and careless generated code, not against an adversary. Real isolation needs a container,
  gVisor/Firecracker, or a separate unprivileged user — a later hardening step.
- A process that leaves the session (setsid; only possible once the hook is bypassed) and
  whose parent exits within ~0.1 s, before the watchdog's next look, is re-parented to init when
  the child ends and can survive.
- It is written for Linux: the process watchdog and the subreaper need /proc and prctl; on other
  systems only the rlimits, the timeout, the output cap and the process-group kill remain.
- RLIMIT_AS caps address space, not resident memory: a few programs (JITs, some BLAS builds)
  reserve large address ranges and fail under a small `memory_mb`.
"""

from __future__ import annotations

import json
import os
import pwd
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from tools._proctree import kill_tree, members
from tools.errors import SandboxError

__all__ = ["KilledReason", "RunResult", "run_python"]

KilledReason = Literal["timeout", "memory", "cpu", "output", "processes"]

_CHILD = Path(__file__).with_name("_sandbox_child.py")
_TMP_NAME = ".tmp"
_CACHE_NAME = ".cache"  # kept between runs (font caches and the like), left out of `files`
_POLL_S = 0.05
_CHUNK = 65536
_SECRET_NAMES = (".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".netrc", ".pgpass",
                 ".git-credentials", ".password-store", ".config/gcloud", ".config/gh",
                 ".local/share/keyrings")
_MAX_SNAPSHOT = 20_000
# Tests turn the audit hook off to exercise the process-level guards (watchdog, killpg) alone.
_AUDIT_HOOK = True


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
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> RunResult:
    """Run `code` in a limited child interpreter with the workspace as cwd; see the module doc.

    Never raises for anything the code does; raises SandboxError only if the process cannot
    be started (workspace not creatable, interpreter missing)."""
    if timeout <= 0 or memory_mb <= 0 or max_output_bytes <= 0 or max_file_bytes <= 0 or max_processes < 1:
        raise ValueError("timeout, memory_mb, max_output_bytes, max_file_bytes and max_processes must be positive")
    root = _workspace(workspace)
    cpu = int(cpu_seconds if cpu_seconds is not None else timeout + 5)
    before = _snapshot(root)
    private = Path(tempfile.mkdtemp(prefix="throughline-run-"))
    try:
        config_path = _write_config(private, code, root, memory_mb, cpu, max_file_bytes, max_processes)
        child_env = _environment(root, env)
        tmp = root / _TMP_NAME
        if tmp.is_symlink() or (tmp.exists() and not tmp.is_dir()):
            tmp.unlink()
        tmp.mkdir(exist_ok=True)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-B", "-u", str(_CHILD), str(config_path)],
                cwd=root, env=child_env, start_new_session=True, close_fds=True,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise SandboxError(f"cannot start {sys.executable}: {exc}") from exc
        known: dict[int, int] = {}
        try:
            watch = _Watch(proc, timeout, max_output_bytes, max_processes, stdin, known)
            watch.run()
        finally:
            kill_tree(proc.pid, known)
            proc.wait()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None and not pipe.closed:
                    pipe.close()
        duration = time.monotonic() - start
        status = (private / "status").read_text() if (private / "status").exists() else ""
    finally:
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(root / _TMP_NAME, ignore_errors=True)
    return _result(proc.returncode, watch, status, duration, cpu, _changed(root, before))


def _workspace(workspace: str | os.PathLike[str]) -> Path:
    path = Path(workspace).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SandboxError(f"cannot create the workspace {str(path)!r}: {exc.strerror}") from exc
    return path.resolve()


def _write_config(private: Path, code: str, root: Path, memory_mb: int, cpu: int,
                  file_bytes: int, max_processes: int) -> Path:
    homes = {Path(h).resolve() for h in (os.environ.get("HOME"), _passwd_home()) if h}
    homes.discard(Path("/"))
    (private / "code.py").write_text(code, encoding="utf-8")
    config = {
        "code_path": str(private / "code.py"),
        "status_path": str(private / "status"),
        "workspace": str(root),
        "audit": _AUDIT_HOOK,
        "protected_homes": sorted(str(h) for h in homes),
        "secret_paths": sorted(str(h / name) for h in homes for name in _SECRET_NAMES),
        "limits": {"memory_bytes": int(memory_mb) * 1024 * 1024, "cpu_seconds": max(1, cpu),
                   "file_bytes": int(file_bytes), "max_processes": int(max_processes)},
    }
    path = private / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def _passwd_home() -> str | None:
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return None


def _environment(root: Path, extra: dict[str, str] | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "HOME": str(root),
        "TMPDIR": str(root / _TMP_NAME),
        "XDG_CACHE_HOME": str(root / _CACHE_NAME),
        "MPLCONFIGDIR": str(root / _CACHE_NAME / "matplotlib"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
    }
    env.update(extra or {})
    return env


class _Watch:
    """Pumps the child's pipes with bounded buffers and enforces time, output and process caps."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout: float, max_output: int,
                 max_processes: int, stdin: str | None, known: dict[int, int]) -> None:
        self.proc, self.timeout, self.max_output, self.max_processes = proc, timeout, max_output, max_processes
        self.out = {"stdout": bytearray(), "stderr": bytearray()}
        self.total = 0
        self.truncated = False
        self.reason: KilledReason | None = None
        self.known = known  # every process seen in the tree: pid -> start time
        self.selector = selectors.DefaultSelector()
        for name in ("stdout", "stderr"):
            self.selector.register(getattr(proc, name), selectors.EVENT_READ, name)
        self.pending_stdin = memoryview(stdin.encode("utf-8")) if stdin is not None else None
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            self.selector.register(proc.stdin, selectors.EVENT_WRITE, "stdin")

    def run(self) -> None:
        try:
            self._loop()
        finally:
            self.selector.close()

    def _loop(self) -> None:
        deadline = time.monotonic() + self.timeout
        next_count = 0.0
        while True:
            now = time.monotonic()
            if now >= deadline:
                return self._stop("timeout")
            if now >= next_count:
                next_count = now + 0.1
                found = members(self.proc.pid, self.known)
                self.known.update(found)
                if len(found) > self.max_processes:
                    return self._stop("processes")
            for key, _ in self.selector.select(min(_POLL_S, max(0.0, deadline - now))):
                if key.data == "stdin":
                    self._feed(key.fileobj)
                elif not self._pump(key.fileobj, key.data):
                    return self._stop("output")
            if self.proc.poll() is not None:
                # The child is gone: kill what it left behind so the pipes reach EOF, then
                # drain what is already buffered (bounded by the same cap).
                kill_tree(self.proc.pid, self.known)
                self._drain(time.monotonic() + 1.0)
                return None

    def _pump(self, pipe: IO[bytes], name: str) -> bool:
        data = os.read(pipe.fileno(), _CHUNK)
        if not data:
            self.selector.unregister(pipe)
            return True
        room = self.max_output - self.total
        self.out[name] += data[:room]
        self.total += min(len(data), room)
        if len(data) > room:
            self.truncated = True
            return False
        return True

    def _feed(self, pipe: IO[bytes]) -> None:
        try:
            if self.pending_stdin:
                sent = os.write(pipe.fileno(), self.pending_stdin[:4096])
                self.pending_stdin = self.pending_stdin[sent:]
        except BlockingIOError:
            return  # the pipe filled up between select and write; try again next round
        except BrokenPipeError:
            self.pending_stdin = None  # the code stopped reading; the rest is dropped
        if not self.pending_stdin:
            self.selector.unregister(pipe)
            pipe.close()

    def _drain(self, until: float) -> None:
        while time.monotonic() < until and any(k.data != "stdin" for k in self.selector.get_map().values()):
            for key, _ in self.selector.select(0.05):
                if key.data == "stdin":
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()
                elif not self._pump(key.fileobj, key.data):
                    return

    def _stop(self, reason: KilledReason) -> None:
        self.reason = reason
        kill_tree(self.proc.pid, self.known)
        if reason != "output":
            self._drain(time.monotonic() + 0.5)  # keep what was printed up to the kill

    def text(self, name: str) -> str:
        return self.out[name].decode("utf-8", errors="replace")


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    state: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in (_TMP_NAME, _CACHE_NAME)]
        for name in filenames:
            full = os.path.join(dirpath, name)
            try:
                info = os.lstat(full)
            except OSError:
                continue
            state[os.path.relpath(full, root)] = (info.st_mtime_ns, info.st_size)
            if len(state) >= _MAX_SNAPSHOT:
                return state
    return state


def _changed(root: Path, before: dict[str, tuple[int, int]]) -> list[str]:
    after = _snapshot(root)
    return sorted(Path(rel).as_posix() for rel, sig in after.items() if before.get(rel) != sig)


def _result(returncode: int, watch: _Watch, status: str, duration: float, cpu: int,
            files: list[str]) -> RunResult:
    reason = watch.reason
    notes = []
    if reason is None and status == "memory":
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
