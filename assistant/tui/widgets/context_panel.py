"""The side panel: the thread's context — the last turn's prompt budget broken down by part, its
recalled memories (with why each was found) and the session's artifacts.

Selecting an artifact (Enter or click) opens it; `i` inserts a reference to it into the message
box, `c` copies it. The panel only posts `ArtifactAction`; the chat screen decides what to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from assistant.tui.safe import one_line

if TYPE_CHECKING:
    from assistant.events import Artifact, ContextBudget, RecalledMemory

KIND_MARKS = {"code": "λ", "draft": "¶", "output": "»", "table": "▦", "chart": "◔", "analysis": "∑", "note": "✎"}


def artifact_reference(artifact: Artifact) -> str:
    """How a message refers to an artifact: `[artifact:ID title]`."""
    title = one_line(artifact.title, 60).replace("]", ")")
    return f"[artifact:{artifact.id} {title}]"


def memory_prompt(memory: RecalledMemory) -> Content:
    where = " · ".join(
        part for part in (
            memory.kind,
            f"session {one_line(memory.session, 20)}" if memory.session else "",
            (memory.created_at or "")[:10],
        ) if part
    )
    why = ("\n" + one_line(memory.why, 80), "dim italic") if memory.why else ""
    return Content.assemble(
        (f"{memory.score:.2f} ", "bold"), (where, "dim"), "\n", one_line(memory.text, 120), why
    )


PART_NAMES = {"memory": "memory", "artifact": "artifact", "history": "turn", "extra": "chain"}


def budget_breakdown(budget: ContextBudget | None) -> Content:
    """The last turn's prompt budget: a line per part, then each block put in, largest first."""
    from assistant.tui.widgets.status import budget_bar

    if budget is None:
        return Content.styled("no turn yet in this view", "dim")
    rows = [("memories", budget.memories), ("artifacts", budget.artifacts), ("history", budget.history),
            ("chain blocks", budget.extra), ("data rule", budget.rule)]
    lines: list[Content | str | tuple[str, str]] = [
        budget_bar(budget, 20), (f" {budget.used}/{budget.budget} tokens", "bold")]
    for name, tokens in rows:
        if tokens:
            lines.append(f"\n{name:<13}{tokens:>6}")
    lines.append((f"\n{'free':<13}{max(budget.budget - budget.used, 0):>6}", "dim"))
    for part, label, tokens in sorted(budget.items, key=lambda item: -item[2])[:8]:
        lines.append((f"\n  {PART_NAMES.get(part, part):<9}{tokens:>5}  {one_line(label, 22)}", "dim"))
    return Content.assemble(*lines)


def artifact_prompt(artifact: Artifact) -> Content:
    mark = KIND_MARKS.get(artifact.kind, "•")
    return Content.assemble(
        (f"{mark} ", "bold"), one_line(artifact.title, 60),
        (f"  {artifact.kind} v{artifact.version} · {artifact.route}", "dim"),
    )


class ArtifactList(OptionList):
    BINDINGS = [
        Binding("i", "act('insert')", "Insert ref"),
        Binding("c", "act('copy')", "Copy"),
        Binding("v", "act('view')", "View", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.artifacts: list[Artifact] = []

    def set_artifacts(self, artifacts: Iterable[Artifact]) -> None:
        self.artifacts = list(artifacts)
        self.set_options([Option(artifact_prompt(a), id=a.id) for a in reversed(self.artifacts)])
        if self.artifacts:
            self.highlighted = 0

    def add_artifact(self, artifact: Artifact) -> None:
        self.set_artifacts([*self.artifacts, artifact])

    @property
    def current(self) -> Artifact | None:
        if self.highlighted is None:
            return None
        option = self.get_option_at_index(self.highlighted)
        return next((a for a in self.artifacts if a.id == option.id), None)

    def action_act(self, action: str) -> None:
        if self.current is not None:
            self.post_message(ContextPanel.ArtifactAction(self.current, action))


class ContextPanel(Vertical):
    """Docked at the right; hidden until toggled (F2). Its parts are made when it is first shown
    (`reveal`): the first frame does without them. What the thread sends before that (artifacts,
    recalled memories, the budget) is kept here and shown then."""

    @dataclass
    class ArtifactAction(Message):
        artifact: Artifact
        action: str  # "view" | "insert" | "copy"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._artifacts: list[Artifact] = []
        self._recalled: list[RecalledMemory] = []
        self._budget: ContextBudget | None = None
        self.built = False

    async def reveal(self) -> None:
        """Make the panel's parts, once, showing what it was sent meanwhile."""
        if self.built:
            return
        self.built = True
        await self.mount_all([
            Static(Content.styled("Prompt budget of the last turn", "bold"), classes="panel-title"),
            Static(budget_breakdown(self._budget), id="budget"),
            Static(Content.styled("Recalled for this turn", "bold"), classes="panel-title"),
            OptionList(id="recalled", markup=False),
            Static(Content.styled("Artifacts in this session", "bold"), classes="panel-title"),
            ArtifactList(id="artifacts"),
            Static(Content("enter view · i insert reference · c copy"), classes="panel-hint"),
        ])
        self.show_recalled(self._recalled)
        self.set_artifacts(self._artifacts)

    def show_recalled(self, memories: Iterable[RecalledMemory]) -> None:
        self._recalled = list(memories)
        if not self.built:
            return
        recalled = self.query_one("#recalled", OptionList)
        if self._recalled:
            recalled.set_options([Option(memory_prompt(m), id=m.id) for m in self._recalled])
        else:
            recalled.set_options([Option(Content.styled("nothing recalled yet", "dim"), disabled=True)])

    def show_budget(self, budget: ContextBudget | None) -> None:
        self._budget = budget
        if self.built:
            self.query_one("#budget", Static).update(budget_breakdown(budget))

    def set_artifacts(self, artifacts: Iterable[Artifact]) -> None:
        self._artifacts = list(artifacts)
        if self.built:
            self.query_one(ArtifactList).set_artifacts(self._artifacts)

    def add_artifact(self, artifact: Artifact) -> None:
        self.set_artifacts([*self._artifacts, artifact])

    @property
    def artifacts(self) -> list[Artifact]:
        return self._artifacts

    @on(OptionList.OptionSelected, "#artifacts")
    def _view(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        artifact = next((a for a in self.artifacts if a.id == event.option_id), None)
        if artifact is not None:
            self.post_message(self.ArtifactAction(artifact, "view"))
