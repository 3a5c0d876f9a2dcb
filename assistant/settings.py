"""Frozen settings, layered: defaults < config.toml < ASSISTANT_* environment < CLI flags.

One place decides every tunable so the CLI, the TUI and embedding apps agree. A bad value anywhere
is a ConfigError naming the file or variable and the key, never a traceback.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from assistant.errors import ConfigError

APP_NAME = "throughline"
# config.toml tables that are not settings: each is read by its own part
# ([mcp] and [tools]: assistant/tool_config.py; [tui]: assistant/tui/config.py; [serve]: assistant/serve/config.py)
OTHER_TABLES = ("mcp", "tools", "tui", "serve")


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_cache_dir() -> Path:
    import platformdirs

    return Path(os.environ.get("ASSISTANT_CACHE_DIR") or platformdirs.user_cache_dir(APP_NAME))


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    model: str = "bundled"
    user: str = "default"
    auto_run: bool = False
    memory_url: str | None = None
    recall_k: int = 64   # at most this many memories a turn; relevance and the token budget decide the rest
    context_tokens: int | None = None   # None: by the model (assistant/budget.py)
    max_new_tokens: int = 384
    temperature: float = 0.0
    max_request_chars: int = 64_000
    dtype: str = "auto"  # local models' decoding precision: auto, float32, bfloat16, int4, int8
    tool_calling: str = "auto"  # a model calls tools itself: auto (if its class can), on, off
    max_tool_steps: int = 8  # model calls per turn in the tool loop
    tool_time_limit: float = 300.0  # seconds per turn in the tool loop
    tool_token_limit: int = 16000  # tokens the model may generate per turn in the tool loop
    # config.toml tables (assistant/tool_config.py), not flags: [mcp.servers.NAME], [tools] auto_approve
    mcp_servers: tuple = ()
    auto_approve_tools: tuple = ()
    sandbox: str = "auto"  # generated code: auto (kernel if possible), kernel (required), hook (audit hook only)
    sandbox_network: bool = False  # let sandboxed code reach the network
    connect_timeout: float = 10.0  # seconds to connect to a model server
    read_timeout: float = 120.0  # seconds a model server may stay silent (before or during a reply)
    keep_alive: float = 300.0  # seconds `ask`'s resident agent stays loaded after its last turn; 0: none

    def with_overrides(self, **overrides: Any) -> "Settings":
        """Apply CLI flags: None means 'not given' and leaves the lower layer's value."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return _validated(replace(self, **_coerce_all(given, "command line")), "command line")


_FIELDS = {f.name: f for f in fields(Settings) if f.name not in ("mcp_servers", "auto_approve_tools")}


def _coerce(name: str, value: Any, where: str) -> Any:
    kind = _FIELDS[name].type
    try:
        if name == "data_dir":
            if not str(value).strip():  # Path("") is the current directory: never a silent choice
                raise ValueError("it is empty; give a directory, or unset it for the default")
            return Path(os.path.expanduser(str(value)))
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"expected true/false, got {value!r}")
        if kind == "int | None" and value in (None, "", "auto"):
            return None   # chosen by the model (context_tokens: assistant/budget.py)
        if kind in ("int", "int | None"):
            if isinstance(value, bool):
                raise ValueError("expected a whole number")
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "str | None":
            return None if value in (None, "") else str(value)
        if not isinstance(value, (str, int, float)):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: bad value for {name!r}: {exc}") from None


def _coerce_all(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(_FIELDS))}"
        )
    return {k: _coerce(k, v, where) for k, v in values.items()}


def _validated(settings: Settings, where: str) -> Settings:
    for name in ("recall_k", "context_tokens", "max_new_tokens", "max_request_chars"):
        value = getattr(settings, name)
        if value is not None and (value < 0 or (name != "recall_k" and value == 0)):
            raise ConfigError(f"{where}: {name} must be a positive number")
    for name in ("connect_timeout", "read_timeout"):
        if not getattr(settings, name) > 0:
            raise ConfigError(f"{where}: {name} must be a positive number of seconds")
    if not settings.keep_alive >= 0:
        raise ConfigError(f"{where}: keep_alive must be 0 (no resident agent) or a positive number of seconds")
    if not 0.0 <= settings.temperature <= 2.0:
        raise ConfigError(f"{where}: temperature must be between 0 and 2")
    if settings.dtype not in ("auto", "float32", "bfloat16", "int4", "int8"):  # assistant.local.decoding.DTYPES
        raise ConfigError(f"{where}: dtype must be one of auto, float32, bfloat16, int4, int8")
    if settings.tool_calling not in ("auto", "on", "off"):
        raise ConfigError(f"{where}: tool_calling must be auto, on or off")
    if settings.max_tool_steps <= 0 or settings.tool_time_limit <= 0 or settings.tool_token_limit <= 0:
        raise ConfigError(f"{where}: max_tool_steps, tool_time_limit and tool_token_limit must be positive")
    if settings.sandbox not in ("auto", "kernel", "hook"):  # tools.confinement.MODES
        raise ConfigError(f"{where}: sandbox must be one of auto, kernel, hook")
    if not settings.user.strip():
        raise ConfigError(f"{where}: user must not be empty")
    return settings


def read_toml(path: Path, *, required: bool = False) -> dict[str, Any]:
    """The whole config file: {} when the (default) file is absent, an error when a file the
    person named (`required`) is."""
    if not path.exists():
        if required:
            raise ConfigError(f"ASSISTANT_CONFIG names {path}, which does not exist; create it or unset ASSISTANT_CONFIG")
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}); fix it or move it aside") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None


def config_file_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("ASSISTANT_CONFIG") or default_config_path())


def read_config_file(path: Path, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings in config.toml (`data`: the file already read): its [assistant] table, or its
    top level without the other tables."""
    data = read_toml(path) if data is None else data
    section = data.get("assistant", {k: v for k, v in data.items() if k not in OTHER_TABLES})
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [assistant] must be a table")
    return section


def load_settings(
    *, config_path: Path | None = None, environ: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Build settings from every layer. `overrides` are CLI flags / constructor arguments."""
    env = os.environ if environ is None else environ
    named_file = Path(env["ASSISTANT_CONFIG"]) if env.get("ASSISTANT_CONFIG") else None
    path = config_path or named_file or default_config_path()
    from assistant.tool_config import tool_tables

    whole = read_toml(path, required=config_path is None and named_file is not None)
    settings = replace(Settings(), **_coerce_all(read_config_file(path, whole), f"config file {path}"),
                       **tool_tables(whole, f"config file {path}"))
    from_env = {
        name: env[f"ASSISTANT_{name.upper()}"] for name in _FIELDS if f"ASSISTANT_{name.upper()}" in env
    }
    settings = replace(settings, **{k: _coerce(k, v, f"ASSISTANT_{k.upper()}") for k, v in from_env.items()})
    settings = _validated(settings, "settings")
    return settings.with_overrides(**overrides)
