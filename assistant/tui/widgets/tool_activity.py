"""A tool run in the transcript: `running python…`, then its result for people (tui/results.py),
folded when long."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static

from assistant.tui.fmt import plural
from assistant.tui.safe import clean

MAX_TOOL_OUTPUT_LINES = 12


class ToolActivity(Static, can_focus=True):
    """A tool run inline: `running python…`, then its result for people (see tui/results.py).

    Output longer than MAX_TOOL_OUTPUT_LINES folds; Enter or a click unfolds it (and folds it again)."""

    BINDINGS = [Binding("enter", "toggle", "Expand", show=False)]

    def __init__(self, name: str, arguments: dict[str, Any] | None = None) -> None:
        self.tool_name = name
        self.expanded = False
        self._head = Text()
        self._body: list[Text] | Any = []
        super().__init__(Content.styled(f"▸ running {clean(name)}…", "italic"), classes="tool -running")

    def finish(self, result: Any = None, error: str | None = None, duration_s: float = 0.0) -> None:
        from assistant.tui.results import render_result

        self.remove_class("-running")
        self.add_class("-error" if error else "-done")
        mark = "✗" if error else "✓"
        self._head = Text(f"{mark} {clean(self.tool_name)} · {duration_s:.2f} s", "bold")
        self._body = [Text(line, "red") for line in clean(error).splitlines()] if error else \
            render_result(self.tool_name, result)
        self._show()

    @property
    def folded_lines(self) -> int:
        """How many lines the fold hides now (0 when unfolded or short)."""
        if self.expanded or not isinstance(self._body, list):
            return 0
        return max(0, len(self._body) - MAX_TOOL_OUTPUT_LINES)

    def _show(self) -> None:
        head = self._head
        if not isinstance(self._body, list):  # a plugin's own renderable: shown as it is
            self.update(Group(head, self._body))
            return
        lines = self._body if self.expanded else self._body[:MAX_TOOL_OUTPUT_LINES]
        text = Text("\n").join([head, *lines])
        if self.folded_lines:
            text.append(f"\n▸ {plural(self.folded_lines, 'more line')} · Enter or click to expand", "dim italic")
        elif self.expanded and len(self._body) > MAX_TOOL_OUTPUT_LINES:
            text.append("\n▾ Enter or click to fold", "dim italic")
        self.update(text)

    def action_toggle(self) -> None:
        if isinstance(self._body, list) and len(self._body) > MAX_TOOL_OUTPUT_LINES:
            self.expanded = not self.expanded
            self._show()

    def on_click(self) -> None:
        self.action_toggle()
