"""The status line under the transcript: the route indicator, the context meter and the model's state.

`RouteIndicator` shows the route forced for the next message (or `auto`) and, while a reply runs,
the chain the router chose. `ContextMeter` shows how much of the prompt budget the last turn's
context used (memories, artifacts, history); F2 breaks it down. `ModelStatus` follows the app's `model_*` reactives: a progress bar
while the bundled model converts or loads, then a short ready/error label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from assistant.tui.safe import one_line

if TYPE_CHECKING:
    from textual.widgets import ProgressBar

    from assistant.events import ContextBudget

BAR_CELLS = 10


class RouteIndicator(Static):
    """The route for the next message (forced by ctrl+r / the palette, or auto) and, while a reply
    runs, the chain the router chose. Posts `Forced` when the forced prefix changes."""

    forced: reactive[str | None] = reactive(None)
    active: reactive[str | None] = reactive(None)

    @dataclass
    class Forced(Message):
        prefix: str | None

    def watch_forced(self, prefix: str | None) -> None:
        self.post_message(self.Forced(prefix))

    def cycle(self, prefixes: Sequence[str]) -> None:
        """auto → each prefix in turn → auto."""
        choices: list[str | None] = [None, *prefixes]
        self.forced = choices[(choices.index(self.forced) + 1) % len(choices)] if self.forced in choices else None

    def apply(self, text: str) -> str:
        """The request to send: `text` with the forced prefix unless it has its own; un-forces."""
        prefix, self.forced = self.forced, None
        return f"{prefix} {text}" if prefix and not text.startswith("/") else text

    def render(self) -> Content:
        if self.active:
            return Content.assemble(("route ", "dim"), (self.active, "bold"))
        if self.forced:
            return Content.assemble(("next ", "dim"), (self.forced, "bold"), ("  ctrl+r to change", "dim"))
        return Content.assemble(("route ", "dim"), ("auto", "bold"), ("  ctrl+r to force", "dim"))


def budget_bar(budget: ContextBudget, cells: int = BAR_CELLS) -> Content:
    """A bar of `cells` cells: memories, artifacts, history (and other) in their colours, then free."""
    parts = (("memories", budget.memories, "magenta"), ("artifacts", budget.artifacts, "cyan"),
             ("history", budget.history, "yellow"), ("other", budget.extra + budget.rule, "blue"))
    total = max(budget.budget, budget.used, 1)
    filled, running, pieces = 0, 0, []
    for _, tokens, colour in parts:  # cumulative rounding: the bar's length is the share used
        running += tokens
        edge = round(cells * running / total)
        pieces.append(("█" * (edge - filled), colour))
        filled = edge
    pieces.append(("░" * (cells - filled), "dim"))
    return Content.assemble(*pieces)


class ContextMeter(Static):
    """`ctx ███░░ 61% · mem 310 · art 400 · hist 120`: the last turn's prompt budget."""

    budget: reactive[ContextBudget | None] = reactive(None)

    def render(self) -> Content:
        b = self.budget
        if b is None:
            return Content.assemble(("context ", "dim"), ("–", ""), ("  F2 details", "dim"))
        share = round(100 * b.used / b.budget) if b.budget else 0
        return Content.assemble(
            ("context ", "dim"), budget_bar(b), (f" {share}%", "bold"),
            (f" · mem {b.memories} · art {b.artifacts} · hist {b.history}", "dim"),
        )


class ModelStatus(Horizontal):
    """The model's state; its progress bar is made when loading begins, after the first frame."""

    def compose(self) -> ComposeResult:
        yield Static(id="model-label")

    def _progress_bar(self) -> ProgressBar:
        from textual.widgets import ProgressBar

        made = self.query(ProgressBar)
        if made:
            return made.first()
        bar = ProgressBar(total=100, show_eta=False, show_percentage=True, id="model-progress")
        self.mount(bar)
        return bar

    def on_mount(self) -> None:
        for name in ("model_state", "model_stage", "model_fraction"):
            self.watch(self.app, name, self._changed, init=False)
        self._changed()

    def _changed(self, _value: object = None) -> None:
        app = self.app
        state = getattr(app, "model_state", "idle")
        spec = getattr(getattr(app, "settings", None), "model", "model")
        label = self.query_one("#model-label", Static)
        self.set_class(state == "loading", "-loading")
        self.set_class(state == "error", "-error")
        if state == "loading":
            label.update(Content(one_line(getattr(app, "model_stage", "") or f"loading {spec}", 48)))
            bar = self._progress_bar()
            fraction = getattr(app, "model_fraction", None)
            if fraction is None:
                bar.update(total=None)
            else:
                bar.update(total=100, progress=round(100 * fraction))
        elif state == "ready":
            label.update(Content.assemble(("● ", "green"), (one_line(spec, 40), ""), (" ready", "dim")))
        elif state == "error":
            label.update(Content.assemble(("● ", "red"), (one_line(spec, 40), ""), (" unavailable", "dim")))
        else:
            label.update(Content.assemble(("○ ", "dim"), (one_line(spec, 40), ""), (" loads on first use", "dim")))
