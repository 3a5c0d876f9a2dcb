"""`assistant serve` settings: the `[serve]` table of config.toml, `ASSISTANT_SERVE_KEYS`, then flags.

    [serve]
    host = "127.0.0.1"
    port = 8765
    keys = { "sha256:9f86d0…" = "alice", "dev-key" = "alice|bob" }   # key (or its hash) = namespaces
    cors_origins = []                  # CORS is off unless origins are listed
    approval = "ask"                   # never | auto | ask: what happens when generated code wants to run
    approval_timeout_s = 30            # "ask": no answer in time is a no
    max_body_bytes = 1048576
    parallel = 0                       # turns generating at once; 0 = 1 for local models, 8 for servers
    queue = 32                         # turns allowed to wait beyond those; past it 503 + Retry-After
    retry_after_s = 2
    shared_sessions = true             # with --memory-url: sessions live on the Chroma server too

Keys are kept only as SHA-256 hashes from the moment they are read; the config may hold the hash
(`assistant serve --hash-key KEY` prints it) so the plain key never sits on disk.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from assistant.errors import ConfigError

APPROVAL_POLICIES = ("never", "auto", "ask")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HASHED = re.compile(r"^sha256:[0-9a-f]{64}$")


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def valid_name(name: str) -> bool:
    """Session and namespace names a client may use: no separators, no dot-dot, no hidden files."""
    return bool(NAME.match(name)) and ".." not in name


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key hash -> namespaces
    cors_origins: tuple[str, ...] = ()
    approval: str = "ask"
    approval_timeout_s: float = 30.0
    max_body_bytes: int = 1 << 20
    parallel: int = 0
    queue: int = 32
    retry_after_s: int = 2
    shared_sessions: bool = True

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def check(self) -> "ServeConfig":
        """Refuse settings that would be unsafe or cannot work, with the fix in the message."""
        if not self.keys and not self.loopback:
            raise ConfigError(
                f"refusing to listen on {self.host} without API keys; set ASSISTANT_SERVE_KEYS=KEY=NAMESPACE "
                "(or [serve] keys in config.toml), or listen on 127.0.0.1"
            )
        if self.approval not in APPROVAL_POLICIES:
            raise ConfigError(f"[serve] approval must be one of {', '.join(APPROVAL_POLICIES)}, not {self.approval!r}")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be between 1 and 65535, not {self.port}")
        for name in ("max_body_bytes", "queue", "retry_after_s"):
            if getattr(self, name) < (1 if name != "queue" else 0):
                raise ConfigError(f"[serve] {name} must be a positive number")
        if self.parallel < 0:
            raise ConfigError("[serve] parallel must be 0 (automatic) or more")
        return self


def parse_keys(text: str, where: str) -> dict[str, tuple[str, ...]]:
    """`KEY=NS[|NS…],KEY=NS` → {hash: namespaces}. A key may already be given as its `sha256:` hash."""
    keys: dict[str, tuple[str, ...]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, spaces = item.partition("=")
        add_key(keys, key.strip(), spaces if sep else "", where)
    return keys


def add_key(keys: dict[str, tuple[str, ...]], key: str, namespaces: Any, where: str) -> None:
    if isinstance(namespaces, str):
        namespaces = namespaces.split("|")
    if not isinstance(namespaces, (list, tuple)):
        raise ConfigError(f"{where}: the namespaces of a key are 'NS|NS' or a list of names")
    names = tuple(str(n).strip() for n in namespaces if str(n).strip())
    if not key or not names:
        raise ConfigError(f"{where}: each key needs the form KEY=NAMESPACE[|NAMESPACE…]")
    bad = [n for n in names if not valid_name(n)]
    if bad:
        raise ConfigError(f"{where}: namespace {bad[0]!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    keys[key if _HASHED.match(key) else hash_key(key)] = names


def load_serve_config(
    table: Mapping[str, Any] | None, environ: Mapping[str, str], **flags: Any
) -> ServeConfig:
    """Defaults < [serve] table < ASSISTANT_SERVE_KEYS (added to the table's keys) < flags."""
    where = "config file [serve]"
    if table is not None and not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    table = dict(table or {})
    known = {f.name for f in fields(ServeConfig)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
    keys: dict[str, tuple[str, ...]] = {}
    raw_keys = table.pop("keys", {})
    if not isinstance(raw_keys, dict):
        raise ConfigError(f"{where}: keys must be a table of KEY = \"NAMESPACE|NAMESPACE\"")
    for key, namespaces in raw_keys.items():
        add_key(keys, key, namespaces, where)
    keys.update(parse_keys(environ.get("ASSISTANT_SERVE_KEYS", ""), "ASSISTANT_SERVE_KEYS"))
    if "cors_origins" in table:
        origins = table["cors_origins"]
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise ConfigError(f"{where}: cors_origins must be a list of origins")
        table["cors_origins"] = tuple(origins)
    config = ServeConfig()
    try:
        config = replace(config, **{k: _typed(config, k, v) for k, v in table.items()}, keys=keys)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    given = {k: v for k, v in flags.items() if v is not None}
    return replace(config, **given).check()


def _typed(config: ServeConfig, name: str, value: Any) -> Any:
    kind = type(getattr(config, name))
    if kind is bool and not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"{name} must be a number")
    if kind is str and not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return kind(value) if kind in (int, float) else value
