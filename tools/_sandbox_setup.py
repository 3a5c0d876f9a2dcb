"""What a sandboxed run is started with: its config file, its environment and its command line."""

from __future__ import annotations

import json
import os
import pwd
import sys
from pathlib import Path

from tools._kernel_argv import CONFIG, SOURCE, bwrap_command, seatbelt_command
from tools._seccomp import filter_program
from tools.confinement import Confinement, bwrap_binary

__all__ = ["BWRAP_PROCESSES", "TMP_NAME", "CACHE_NAME", "command", "environment", "write_config"]

CHILD = Path(__file__).with_name("_sandbox_child.py")
TMP_NAME = ".tmp"
CACHE_NAME = ".cache"  # kept between runs (font caches and the like), left out of `files`
BWRAP_PROCESSES = 3  # bubblewrap's monitor and init, and the bootstrap waiting for the code
_SECRET_NAMES = (".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".netrc", ".pgpass",
                 ".git-credentials", ".password-store", ".config/gcloud", ".config/gh",
                 ".local/share/keyrings")


def protected_homes() -> list[str]:
    homes = {Path(h).resolve() for h in (os.environ.get("HOME"), _passwd_home()) if h}
    homes.discard(Path("/"))
    return sorted(str(h) for h in homes)


def write_config(private: Path, code: str, root: Path, *, limits: dict[str, int], status_fd: int,
                 lifeline_fd: int, audit: bool, kernel: bool) -> Path:
    """The bootstrap's config; under bubblewrap its paths are the ones seen inside the sandbox."""
    homes = protected_homes()
    (private / "code.py").write_text(code, encoding="utf-8")
    inside = Path(CONFIG) if kernel else private
    config = {
        "code_path": str(inside / "code.py"),
        "status_fd": status_fd,
        "lifeline_fd": lifeline_fd,
        "workspace": str(root),
        "copy_from": SOURCE if kernel else None,
        "audit": audit,
        "protected_homes": homes,
        "secret_paths": sorted(str(Path(h) / name) for h in homes for name in _SECRET_NAMES),
        "limits": limits,
    }
    path = private / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def _passwd_home() -> str | None:
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return None


def environment(root: Path, extra: dict[str, str] | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "HOME": str(root),
        "TMPDIR": str(root / TMP_NAME),
        "XDG_CACHE_HOME": str(root / CACHE_NAME),
        "MPLCONFIGDIR": str(root / CACHE_NAME / "matplotlib"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
    }
    env.update(extra or {})
    return env


def command(level: Confinement, root: Path, private: Path, quota_bytes: int, network: bool) -> tuple[list[str], list[int]]:
    """The argv to start and the descriptors it needs open (the seccomp program's)."""
    plain = [sys.executable, "-I", "-B", "-u", str(CHILD), str(private / "config.json")]
    if not level.processes:
        if level.filesystem:  # macOS: sandbox-exec around the plain command
            return seatbelt_command(workspace=root, private=private, network=network) + plain, []
        return plain, []
    fds: list[int] = []
    program = filter_program()
    if program is not None:
        fd = os.memfd_create("throughline-seccomp", 0)
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
        fds.append(fd)
    argv = bwrap_command(bwrap_binary() or "bwrap", workspace=root, private=private, tools_dir=CHILD.parent,
                         quota_bytes=quota_bytes, network=network, seccomp_fd=fds[0] if fds else None,
                         protected=tuple(protected_homes()))
    return argv, fds
