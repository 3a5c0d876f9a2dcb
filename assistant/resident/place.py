"""Where a resident agent listens, and which one an `ask` may use.

An `ask` may reuse an agent only if that agent would answer exactly as a fresh process would: the
same settings (config file included), the same environment the model, memory and sandbox read,
the same interpreter and the same installed code. All of that goes into the key that names the
socket; anything else gets its own agent (the outdated one exits when idle). `auto_run` and
`keep_alive` stay out of the key: each turn says how its code is approved, and how long an idle
agent stays is the last starter's choice.

The socket is in a directory only this user can enter (`$XDG_RUNTIME_DIR/throughline`, else
`<tmp>/throughline-<uid>`; `ASSISTANT_RUNTIME_DIR` overrides): whoever can connect can run turns
as this user, so nobody else may.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
import sys
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from assistant.errors import ConfigError
from assistant.settings import config_file_path

if TYPE_CHECKING:
    from assistant.settings import Settings

# Environment that changes a turn: ours, the model clients', the embedder's, the engine's threads,
# proxies, and what the sandbox and MCP servers inherit (PATH, HOME, the locale, XDG dirs).
KEYED_ENV_PREFIXES = ("ASSISTANT_", "THROUGHLINE_", "OPENAI_", "OLLAMA_", "HF_", "TRANSFORMERS_", "OMP_", "MKL_",
                      "TORCH", "CHROMA", "ANONYMIZED_TELEMETRY", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT",
                      "PYTHONPATH", "PATH", "HOME", "LANG", "LC_", "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                      "XDG_CACHE_HOME")
PATH_ENV = ("ASSISTANT_CONFIG", "ASSISTANT_CACHE_DIR", "THROUGHLINE_CACHE_DIR", "HF_HOME", "XDG_DATA_HOME",
            "XDG_CONFIG_HOME", "XDG_CACHE_HOME")
UNKEYED_ENV = ("ASSISTANT_KEEP_ALIVE", "ASSISTANT_DEBUG", "ASSISTANT_RUNTIME_DIR", "ASSISTANT_AUTO_RUN")
UNKEYED_SETTINGS = ("auto_run", "keep_alive")
CODE_PACKAGES = ("assistant", "memory", "tools")
MAX_SOCKET_PATH = 100  # AF_UNIX paths stop at 107 bytes on Linux


@dataclass(frozen=True)
class Place:
    key: str
    socket: Path
    lock: Path  # held while one `ask` checks for the agent and starts it
    log: Path  # the agent's stdout/stderr: why it failed to start, if it did


def anchored(settings: "Settings", environ: Mapping[str, str]) -> tuple["Settings", dict[str, str]]:
    """The settings and environment with every path made absolute: the agent runs in another
    directory, and an `ask` in another directory naming `./data` means another data dir."""
    from dataclasses import replace

    env = dict(environ)
    for name in PATH_ENV:
        if env.get(name):
            env[name] = os.path.abspath(env[name])
    # The agent imports our packages from where this `ask` found them (a checkout run with -m, say),
    # then the rest of the import path.
    paths = [str(root.parent) for root in package_roots()]
    paths += [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    if settings.mcp_servers:  # their relative commands and dirs mean what they mean here
        env["ASSISTANT_RESIDENT_CWD"] = os.getcwd()
    model = settings.model
    backend, sep, target = model.partition(":")
    if sep and backend.strip().lower() in ("hf", "llamacpp") and not os.path.isabs(target) and os.path.exists(target):
        model = f"{backend}:{os.path.abspath(target)}"  # a local path, not a hub id
    return replace(settings, data_dir=settings.data_dir.absolute(), model=model), env


def place_for(settings: "Settings", environ: Mapping[str, str] | None = None) -> Place:
    """Where the agent for these (anchored) settings listens."""
    env = os.environ if environ is None else environ
    key = agent_key(settings, env)
    directory = runtime_dir(env)
    stem = directory / f"ask-{key[:24]}"
    return Place(key=key, socket=stem.with_suffix(".sock"), lock=stem.with_suffix(".lock"), log=stem.with_suffix(".log"))


def runtime_dir(environ: Mapping[str, str]) -> Path:
    """This user's private directory for sockets, made if missing (mode 0700)."""
    named = environ.get("ASSISTANT_RUNTIME_DIR")
    xdg = environ.get("XDG_RUNTIME_DIR")
    if named:
        directory = Path(named)
    elif xdg and Path(xdg).is_dir():
        directory = Path(xdg) / "throughline"
    else:
        directory = Path(tempfile.gettempdir()) / f"throughline-{os.getuid()}"
    if len(str(directory)) > MAX_SOCKET_PATH - 36:  # the socket's name takes 33 more
        if named:
            raise ConfigError(f"ASSISTANT_RUNTIME_DIR {directory} is too long for a socket path (at most "
                              f"{MAX_SOCKET_PATH - 36} characters); name a shorter one")
        directory = Path(tempfile.gettempdir()) / f"throughline-{os.getuid()}"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
    except OSError as exc:
        raise ConfigError(f"cannot make the resident agent's directory {directory}: {exc.strerror}; "
                          "set ASSISTANT_RUNTIME_DIR, or keep_alive = 0 to answer without one") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ConfigError(f"{directory} is not a directory of this user's; set ASSISTANT_RUNTIME_DIR to one, "
                          "or keep_alive = 0 to answer without a resident agent")
    if info.st_mode & 0o077:
        if named:  # a directory the person chose: not ours to change
            raise ConfigError(f"ASSISTANT_RUNTIME_DIR {directory} can be entered by other users; its sockets "
                              "would let them run turns as you: `chmod 700` it, or name another")
        os.chmod(directory, 0o700)  # ours: nobody else may reach the socket
    return directory


def agent_key(settings: "Settings", environ: Mapping[str, str]) -> str:
    # sys.path[0] is where this `ask` was started from (the script's dir, or the cwd for -m): the
    # agent runs with -P and gets our packages' own dirs instead (`anchored`), which the stamps name.
    paths = sys.path[1:]
    parts = [sys.executable, *paths]
    parts += [f"{f.name}={getattr(settings, f.name)!r}" for f in fields(settings) if f.name not in UNKEYED_SETTINGS]
    parts += sorted(f"{k}={v}" for k, v in environ.items()
                    if k.upper().startswith(KEYED_ENV_PREFIXES) and k not in UNKEYED_ENV)
    parts += _code_stamps(paths)
    parts.append(_stamp(config_file_path(environ)))
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _code_stamps(paths: list[str]) -> list[str]:
    """The installed code as a fresh process would import it: our packages' files, and each
    import path's directory (installing or removing a package, a plugin among them, touches it)."""
    stamps = [_stamp(Path(entry)) for entry in paths if entry]
    for root in package_roots():
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            stamps += [_stamp(Path(folder) / f) for f in sorted(files)]  # data too: the routing examples
    return stamps


def package_roots() -> list[Path]:
    """Our packages' directories, as this process imports them."""
    roots = []
    for name in CODE_PACKAGES:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module is not None else None
        if origin is None:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec is not None else None
        if origin:
            roots.append(Path(origin).parent)
    return roots


def _stamp(path: Path) -> str:
    try:
        info = path.stat()
    except OSError:
        return f"{path}:-"
    return f"{path}:{info.st_mtime_ns}:{info.st_size}"
