"""The key bindings a person can remap (`[tui.keys]` in config.toml) and the keys in force.

Every remappable binding has an id; `keys_in_force(app)` lists them with the keys the app's keymap
gives them now, for the help screen.
"""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding


def _bound() -> list[tuple[str, Binding]]:
    """(where, binding) for every binding with an id, in the order the help lists them."""
    from assistant.tui.app import ThroughlineApp
    from assistant.tui.screens.chat import ChatScreen
    from assistant.tui.screens.memory import MemoryScreen
    from assistant.tui.screens.sessions import SessionsScreen
    from assistant.tui.widgets.transcript import PendingMessage, Selectable

    places = (("everywhere", ThroughlineApp), ("chat", ChatScreen), ("focused message", Selectable),
              ("queued message", PendingMessage), ("sessions", SessionsScreen), ("memory browser", MemoryScreen))
    return [(where, b) for where, cls in places for b in cls.BINDINGS if isinstance(b, Binding) and b.id]


def binding_ids() -> list[str]:
    return [b.id for _, b in _bound() if b.id]


def keys_in_force(app: App) -> list[tuple[str, str, str, str]]:
    """(where, id, keys, what it does) for every remappable binding, with the app's keymap applied."""
    keymap = getattr(app, "_keymap", {}) or {}
    rows = []
    for where, binding in _bound():
        keys = keymap.get(binding.id or "", binding.key)  # shown as config.toml spells them
        rows.append((where, binding.id or "", ", ".join(k.strip() for k in keys.split(",")),
                     binding.description or binding.action))
    return rows
