"""The chat UI's own settings: the `[tui]` table of config.toml.

    [tui]
    theme = "nord"             # any Textual theme (ctrl+p → "Change theme" lists them)
    images = "auto"            # auto | graphics | halfblock | off   (see tui/images.py)

    [tui.keys]                 # binding id = keys, comma-separated; F1 lists the ids and keys in force
    new_session = "ctrl+t"
    copy_message = "y"

Read apart from `assistant.settings` (the agent's settings know nothing of the UI). A bad value
never stops the UI: it is reported as a notification and the default is kept.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

from assistant.tui.images import Mode


@dataclass(frozen=True)
class TuiConfig:
    theme: str | None = None
    images: Mode = "auto"
    keys: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def config_path() -> Path:
    from assistant.settings import default_config_path

    return Path(os.environ.get("ASSISTANT_CONFIG") or default_config_path())


def load_tui_config(path: Path | None = None) -> TuiConfig:
    """The `[tui]` table of the config file (defaults when there is none); never raises."""
    path = path or config_path()
    try:
        with path.open("rb") as fh:
            table = tomllib.load(fh).get("tui", {})
    except FileNotFoundError:
        return TuiConfig()
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return TuiConfig(problems=(f"{path}: cannot read [tui] ({exc}); using defaults",))
    if not isinstance(table, dict):
        return TuiConfig(problems=(f"{path}: [tui] must be a table; using defaults",))
    problems: list[str] = []
    theme = table.get("theme")
    if theme is not None and not isinstance(theme, str):
        problems.append(f"{path}: [tui] theme must be a string")
        theme = None
    images = table.get("images", "auto")
    if images not in get_args(Mode):
        problems.append(f"{path}: [tui] images must be one of {', '.join(get_args(Mode))}; got {images!r}")
        images = "auto"
    keys = table.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(v, str) and v.strip() for v in keys.values()):
        problems.append(f"{path}: [tui.keys] must map binding ids to keys, e.g. new_session = \"ctrl+t\"")
        keys = {}
    unknown = sorted(set(table) - {"theme", "images", "keys"})
    if unknown:
        problems.append(f"{path}: unknown [tui] setting {unknown[0]!r}; known: images, keys, theme")
    return TuiConfig(theme=theme, images=images, keys={str(k): str(v) for k, v in keys.items()},
                     problems=tuple(problems))
