"""Writing: outline → draft → self-review → revise, with the thread's context pulled in.

- The brief (assistant.chains.review) is read from the request (length, tone, audience, points),
  the remembered style preferences ("The user prefers short sentences.") and the figures in other
  chains' artifacts (an analysis's numbers when the request says "add the numbers").
- Outline: the plan is built by rules (the brief's points and figures, or the outline of the draft
  being revised); for a long piece (an essay, an article, a report) a capable model writes the outline
  itself first. The bundled small model never gets the extra call: each costs seconds there.
- One draft call. The review is deterministic (word/sentence counts, reading level, tone marks,
  required figures). A failed check that a rule fixes without loss (a text a little too long, long
  sentences, contractions, missing figures, a preamble) is fixed by `enforce`; only a check rules
  cannot fix gets one revision call, and only when the turn's time budget leaves room for it (each
  model pass costs seconds on the bundled model: a blog intro took 48 s with every pass). The
  better of draft and revision by the checks is kept, and `enforce` makes the hard requirements
  true. So the text streamed first is, most of the time, the one the person keeps.
- Every answer is a draft artifact. A follow-up on the draft ("make it shorter", "more formal",
  "update the intro with the numbers") rewrites the latest draft and saves it as its next version,
  with a diff against the previous version.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generator

from assistant.chains.base import (
    ChainResult,
    ChainRun,
    NewArtifact,
    PromptChain,
    short_title,
    stream_model,
)
from assistant.chains.review import (
    Brief,
    Check,
    enforce,
    failed,
    fixable_by_rule,
    make_brief,
    review,
    words_of,
)
from assistant.chains.steps import is_small_model, quietly, tool_step, tuned
from assistant.events import Artifact, Event, Token

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

SYSTEM = (
    "You are a skilled writer. Write exactly the text the user asks for (a poem, an email, a blog post, "
    "a summary, an edit of a draft) in clear, natural prose. If the request asks to change an earlier "
    "draft, rewrite that draft accordingly. Use facts and numbers from the quoted context when they are "
    "relevant. Output only the requested text, with no preamble."
)
_REVISE = re.compile(r"\b(?:make|rewrite|revise|update|edit|shorten|expand|tighten|polish|rephrase|change|add|"
                     r"remove|cut|trim|improve|fix|redo|reword|adjust|tweak)\b", re.I)
_REFERS = re.compile(r"\b(?:it|this|that|the|my|our)\s+(?:draft|intro|introduction|post|blog|email|letter|text|story|"
                     r"paragraph|essay|summary|article|piece|copy|version|opening|poem|speech|bio|note)\b|"
                     r"\b(?:make|shorten|expand|rewrite|revise|update|edit|polish|redo)\s+it\b", re.I)
_FOLLOW_UP = re.compile(r"^\s*(?:shorter|longer|more\s|less\s|make\s|now\s|add\s|remove\s|again|try again|"
                        r"another|simpler|punchier|warmer|friendlier|tighter)", re.I)
_LONG_FORM = re.compile(r"\b(?:essay|article|blog post|report|speech|chapter|white ?paper|newsletter|proposal)\b"
                        r"(?![^.?!]*\b(?:intro|introduction|title|paragraph|sentence)\b)", re.I)
_PASTED = re.compile(r":\s*\S+(?:\s+\S+){11,}")
PROSE_OPTIONS = {"repetition_penalty": 1.1}
BUDGET_S = 15.0  # a writing turn's model time; a revision runs only when it fits (estimated as the draft's time)


def draft_to_revise(run: ChainRun) -> Artifact | None:
    """The latest draft when the request asks to change it rather than write something new."""
    latest = run.session.latest_artifact(kind="draft")
    if latest is None or _PASTED.search(run.request):  # text pasted to edit is the new input
        return None
    if _REVISE.search(run.request) and _REFERS.search(run.request):
        return latest
    if run.session.current_route == "writing" and len(run.request.split()) <= 10 and _FOLLOW_UP.match(run.request):
        return latest
    return None


def other_artifacts(run: ChainRun, route: str) -> list[Artifact]:
    """The latest version of each artifact other chains made in this thread, newest first."""
    latest: dict[tuple[str, str], Artifact] = {}
    for artifact in run.session.artifacts:
        latest[(artifact.kind, artifact.title)] = artifact
    return sorted((a for a in latest.values() if a.route != route), key=lambda a: a.created_at, reverse=True)


def _token_budget(model, brief: Brief) -> dict:
    """Per-call options for a local model: prose settings, and fewer tokens when the text is short."""
    options = dict(PROSE_OPTIONS)
    if brief.max_words:
        default = int(getattr(model, "max_new_tokens", 512) or 512)
        options["max_new_tokens"] = max(32, min(default, brief.max_words * 2 + 24))
    return options


@dataclass
class WritingChain(PromptChain):
    budget_s: float = BUDGET_S

    def artifacts(self, run: ChainRun, text: str) -> tuple[NewArtifact, ...]:
        """The draft, when a model that calls tools wrote it in the tool loop instead of `run`."""
        previous = draft_to_revise(run)
        title = previous.title if previous else short_title(run.request)
        return (NewArtifact(kind="draft", title=title, content=text),) if text else ()

    def run(self, run: ChainRun, messages: "list[BaseMessage]") -> Generator[Event, None, ChainResult]:
        from langchain_core.messages import AIMessage, HumanMessage

        started = time.monotonic()
        previous = draft_to_revise(run)
        brief = make_brief(run.request, run.memories, previous, other_artifacts(run, self.name))
        plan = yield from self._outline(run, brief, previous)
        model = tuned(run.model, **_token_budget(run.model, brief))
        asked = [*messages[:-1], HumanMessage(self._ask(run.request, brief, previous, plan))]
        drafting = time.monotonic()
        text, tokens = yield from stream_model(model, asked)
        draft = text.strip()
        draft_s = time.monotonic() - drafting
        checks = yield from self._review(draft, brief, "draft")
        best, best_failed = draft, failed(checks)
        shown = draft  # the text the person saw last
        needs_model = [c for c in best_failed if not fixable_by_rule(c, brief, draft)]  # the rest: `enforce`
        if needs_model and time.monotonic() - started + draft_s > self.budget_s:
            yield Token(f"\n\n**Review:** {_describe(best_failed)}. No time for a revision; kept the draft.\n")
        elif needs_model:
            fixes = " ".join(dict.fromkeys(c.fix for c in best_failed))
            yield Token(f"\n\n**Review:** {_describe(best_failed)}. Revising.\n\n")
            again = [*asked, AIMessage(draft), HumanMessage(f"Revise your text. {fixes} Output only the revised text.")]
            revised, used = yield from stream_model(model, again)
            tokens += used
            shown = revised.strip()
            revised_failed = failed((yield from self._review(revised.strip(), brief, "revision")))
            if revised.strip() and len(revised_failed) <= len(best_failed):
                best, best_failed = revised.strip(), revised_failed
        final, changes = enforce(best, brief)
        if final != shown and final.startswith(shown):  # only added to (the figures): show the addition alone
            yield Token(final[len(shown):])
        elif final != shown:
            note = f" ({'; '.join(changes)})" if changes else ""
            yield Token(f"\n\n**Final version**{note}:\n\n{final}")
        title = previous.title if previous else short_title(run.request)
        if previous is not None:
            yield from self._diff(previous, final)
        return ChainResult(text=final, artifacts=(NewArtifact(kind="draft", title=title, content=final),) if final else (),
                           tokens=tokens)

    def _ask(self, request: str, brief: Brief, previous: Artifact | None, plan: list[str]) -> str:
        lines = brief.requirements()
        if plan and previous is None:
            lines.append("Cover, in order: " + "; ".join(plan))
        extra = ("\n\nRequirements:\n- " + "\n- ".join(lines)) if lines else ""
        if previous is None:
            return request + extra
        return (f"Here is the current draft:\n\n{previous.content}\n\nRewrite this draft as asked: {request}{extra}\n"
                "Output only the rewritten text.")

    def _outline(self, run: ChainRun, brief: Brief, previous: Artifact | None) -> Generator[Event, None, list[str]]:
        """The plan: the previous draft's outline, a capable model's outline, or the brief's points."""
        from tools.text import outline

        if previous is not None:
            step = yield from tool_step("outline", {"of": f"{previous.title} v{previous.version}"},
                                        lambda: outline(previous.content))
            return step.output if step.ok else []
        if not is_small_model(run.model) and _LONG_FORM.search(run.request):
            from langchain_core.messages import HumanMessage, SystemMessage

            ask = [SystemMessage("You plan pieces of writing. Answer with 3 to 5 short bullet points, nothing else."),
                   HumanMessage(f"Outline this: {run.request}" + ("\nIt must use: " + " ".join(brief.facts) if brief.facts else ""))]
            text, _ = quietly(stream_model(run.model, ask))
            points = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in text.splitlines()]
            points = [p for p in points if p][:5]
            yield from tool_step("outline", {"by": "model"}, lambda: points)
            return points
        points = [f"mention {p}" for p in brief.points] + (["the figures given"] if brief.facts else [])
        if points:
            yield from tool_step("outline", {"by": "rules"}, lambda: points)
        return points

    def _review(self, text: str, brief: Brief, what: str) -> Generator[Event, None, list[Check]]:
        step = yield from tool_step(
            "review_draft", {"of": what, "words": words_of(text)}, lambda: review(text, brief),
            shown=lambda checks: [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
        )
        return step.output if step.ok else []

    def _diff(self, previous: Artifact, final: str) -> Generator[Event, None, None]:
        from tools.text import diff_texts

        def summary() -> dict:
            diff = diff_texts(previous.content, final)
            added = sum(1 for d in diff.splitlines() if d.startswith("+") and not d.startswith("+++"))
            removed = sum(1 for d in diff.splitlines() if d.startswith("-") and not d.startswith("---"))
            return {"from_version": previous.version, "lines_added": added, "lines_removed": removed,
                    "words": f"{words_of(previous.content)} → {words_of(final)}", "diff": diff[:4000]}

        yield from tool_step("diff_texts", {"from": f"v{previous.version}", "to": f"v{previous.version + 1}"}, summary)


def _describe(checks: list[Check]) -> str:
    return "; ".join(f"{c.name} ({c.detail})" for c in checks)


def writing_chain() -> WritingChain:
    return WritingChain(
        name="writing",
        description="drafts, emails, stories, summaries and edits of prose; reviewed against the request",
        prefix="/write",
        system_prompt=SYSTEM,
    )
