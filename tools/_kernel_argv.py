"""The command lines that put the sandbox's interpreter under the kernel's confinement.

Linux (bubblewrap): the code sees a new, read-only root holding only /usr, a short list of /etc
files, the Python installation and /sys's CPU list; its workspace is a size-limited tmpfs (the
run's disk quota: the kernel answers ENOSPC past it) filled from a read-only view of the real
workspace, and /tmp points into it; /dev/shm is a small tmpfs of its own. The home directory and
everything else on the machine are simply not there. New user, PID, network, IPC, UTS and cgroup
namespaces; no further user namespaces; a seccomp filter; killed when the assistant dies.

macOS (sandbox-exec): writes outside the workspace and, unless opened, the network are denied.
This part is untested here (no macOS machine); it is kept tiny on purpose.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["BOOT", "SOURCE", "bwrap_command", "seatbelt_command"]

RUN_DIR = "/run/throughline"
SOURCE = f"{RUN_DIR}/source"  # the real workspace, read-only, copied into the tmpfs by the bootstrap
BOOT = f"{RUN_DIR}/boot"  # tools/_sandbox_child.py and tools/_fswalk.py
CONFIG = f"{RUN_DIR}/run"  # this run's config and code
SHM_BYTES = 64 * 1024 * 1024
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "alternatives", "fonts",
        "ssl/certs", "ca-certificates", "ca-certificates.conf", "passwd", "group", "nsswitch.conf",
        "host.conf", "hosts", "services", "protocols", "mime.types", "os-release", "matplotlibrc")
_NETWORK_ETC = ("resolv.conf", "gai.conf")
_TOP_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def bwrap_command(binary: str, *, workspace: Path, private: Path, tools_dir: Path, quota_bytes: int,
                  network: bool, seccomp_fd: int | None, protected: tuple[str, ...]) -> list[str]:
    args = [binary, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--ro-bind", "/usr", "/usr"]
    if network:
        args.append("--share-net")
    for name in _TOP_LINKS:
        host = f"/{name}"
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    for name in _ETC + (_NETWORK_ETC if network else ()):
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu",
             "--proc", "/proc", "--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm",
             *_quota_mounts(workspace, quota_bytes)]
    for root in _python_roots(protected):  # after the tmpfs: a venv under /tmp stays visible
        args += ["--ro-bind", root, root]
    args += ["--ro-bind", str(workspace), SOURCE,
             "--ro-bind", str(private), CONFIG,
             "--ro-bind", str(tools_dir / "_sandbox_child.py"), f"{BOOT}/_sandbox_child.py",
             "--ro-bind", str(tools_dir / "_fswalk.py"), f"{BOOT}/_fswalk.py",
             "--remount-ro", "/", "--chdir", str(workspace)]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args + ["--", sys.executable, "-I", "-B", "-u", f"{BOOT}/_sandbox_child.py", f"{CONFIG}/config.json"]


def _quota_mounts(workspace: Path, quota_bytes: int) -> list[str]:
    """One size-limited tmpfs holds the workspace and /tmp: at the workspace with /tmp pointing
    into it, or, for a workspace under /tmp, at /tmp with the workspace made inside it."""
    if _under(str(workspace), "/tmp"):
        return ["--size", str(quota_bytes), "--perms", "1777", "--tmpfs", "/tmp", "--dir", str(workspace)]
    return ["--size", str(quota_bytes), "--perms", "0700", "--tmpfs", str(workspace),
            "--symlink", str(workspace / ".tmp"), "/tmp"]


def _python_roots(protected: tuple[str, ...]) -> list[str]:
    """The interpreter's installation and site-packages outside /usr, without anything that holds
    a home directory (a venv inside a project under ~ is bound alone, never the home)."""
    import site

    found: set[str] = set()
    for entry in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()):
        for path in {os.path.abspath(entry), os.path.realpath(entry)}:
            if os.path.isdir(path) and path != "/" and not _under(path, "/usr") and not any(
                    _under(home, path) for home in protected):
                found.add(path)
    # Nested entries are covered by their parent's bind.
    return sorted(p for p in found if not any(p != q and _under(p, q) for q in found))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def seatbelt_command(*, workspace: Path, private: Path, network: bool) -> list[str]:
    """sandbox-exec with a profile: writes only in the workspace and the run's own files."""
    quoted = [str(p).replace("\\", "\\\\").replace('"', '\\"') for p in (workspace, private)]
    profile = ("(version 1)(allow default)(deny file-write*)"
               f'(allow file-write* (subpath "{quoted[0]}") (subpath "{quoted[1]}") (literal "/dev/null"))'
               + ("" if network else "(deny network*)"))
    return ["sandbox-exec", "-p", profile]
