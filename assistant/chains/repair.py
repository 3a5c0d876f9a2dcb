"""Check-and-repair for generated code: run it (with its tests) in the sandbox, and when it fails,
fix what rules can fix, then give the error back to the model — a bounded number of times.

The pieces are small on purpose: `execute` is one sandboxed run wrapped in tool events,
`deterministic_fix` applies the rule-based repairs that need a failed run to know they apply,
`repair_messages` is the prompt that shows the model its code and the error, and `Attempt.score`
orders attempts so the best one is kept even when a later repair makes things worse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generator

from assistant.chains.base import ChainRun
from assistant.chains.steps import tool_step
from assistant.events import Event

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from tools.code_tests import TestReport, TestSuite

OUTPUT_CHARS = 1500
REPAIR_ASK = (
    "I ran that code{against} and it failed:\n{errors}\n\n"
    "Write the complete corrected code in one ```python block. Keep the same function names."
)


@dataclass
class Attempt:
    code: str
    answer: str  # the model's answer this code came from
    source: str  # "model" | "repair N" | a deterministic fix's note
    fixes: list[str] = field(default_factory=list)
    report: "TestReport | None" = None

    @property
    def score(self) -> tuple[int, int, int]:
        """Higher is better: passing, then tests passed, then loading at all."""
        if self.report is None:
            return (0, 0, 0)
        return (int(self.report.ok), self.report.passed, int(not self.report.load_error))


def preview(code: str, suite: "TestSuite") -> str:
    """What the person approves: the code, and the tests that will run against it."""
    if not suite:
        return code
    return f"{code.rstrip()}\n\n# --- tests from your request ---\n{suite.source()}\n"


def execute(run: ChainRun, code: str, suite: "TestSuite", timeout: float = 30.0) -> Generator[Event, None, "TestReport"]:
    """One sandboxed run in the session's workspace, between ToolStarted and ToolFinished."""
    from tools.code_tests import TestReport, run_tests

    name = "run_tests" if suite else "run_python"
    arguments = {"code": code, "tests": len(suite)} if suite else {"code": code}
    step = yield from tool_step(
        name, arguments, lambda: run_tests(code, suite, workspace=run.workspace, timeout=timeout),
        shown=lambda r: {"summary": r.summary(), "passed": r.passed, "failed": r.failed,
                         "exit_code": r.exit_code, "stdout": r.stdout[-OUTPUT_CHARS:]},
    )
    if step.ok:
        return step.output
    return TestReport(load_error=f"the sandbox could not run the code: {step.error}", exit_code=-1)


def deterministic_fix(code: str, report: "TestReport", suite: "TestSuite") -> tuple[str, str] | None:
    """A rule-based repair that a failed run showed is needed: (new code, what was done), or None."""
    from tools.code_fixes import keep_definitions

    at_module_level = "in <module>" in report.load_error and 'File "solution.py"' in report.load_error
    if suite and at_module_level:
        fixed = keep_definitions(code)
        if fixed != code:
            return fixed, "dropped the top-level example code that crashed while loading"
    return None


def repair_messages(
    messages: "list[BaseMessage]", request: str, attempt: Attempt, report: "TestReport", suite: "TestSuite"
) -> "list[BaseMessage]":
    """The system prompt (with the thread's context), the request, the failed code, and the error."""
    from langchain_core.messages import AIMessage, HumanMessage

    against = f" against the {len(suite)} tests" if suite else ""
    return [
        messages[0],
        HumanMessage(request),
        AIMessage(f"```python\n{attempt.code.rstrip()}\n```"),
        HumanMessage(REPAIR_ASK.format(against=against, errors=report.brief_errors(600))),
    ]


def outcome_text(best: Attempt, attempts: list[Attempt], suite: "TestSuite") -> str:
    """The short report appended to the answer: what ran, how it went, its output."""
    report = best.report
    assert report is not None
    tries = len(attempts)
    where = f" (best of {tries} attempts: {best.source})" if tries > 1 else ""
    lines = [f"**Ran it** in the sandbox{where}: {report.summary()}."]
    if report.stdout.strip():
        out = report.stdout.strip()
        out = out if len(out) <= OUTPUT_CHARS else "…" + out[-OUTPUT_CHARS:]
        lines.append(f"Output:\n```text\n{out}\n```")
    if not report.ok:
        lines.append(f"Still failing:\n```text\n{report.errors_text(800)}\n```")
    return "\n\n".join(lines)


def output_artifact(title: str, best: Attempt, attempts: list[Attempt], suite: "TestSuite") -> str:
    """The run record kept as an "output" artifact: result, each test, output and errors."""
    report = best.report
    assert report is not None
    lines = [f"Ran {title} in the sandbox: {report.summary()} (attempt {attempts.index(best) + 1} of "
             f"{len(attempts)}; {best.source})."]
    if best.fixes:
        lines.append("Fixes applied: " + "; ".join(best.fixes) + ".")
    if report.results:
        lines.append("Tests:")
        lines += [f"  {'PASS' if r.ok else 'FAIL'} {r.name}" + (f" — {_one_line(r.error)}" if not r.ok else "")
                  for r in report.results]
    if report.load_error:
        lines.append("Error while loading:\n" + report.load_error.strip())
    if report.stdout.strip():
        lines.append("Output:\n" + report.stdout.strip()[-OUTPUT_CHARS:])
    if report.stderr.strip() and not report.load_error:
        lines.append("Stderr:\n" + report.stderr.strip()[-OUTPUT_CHARS:])
    return "\n".join(lines)


def _one_line(text: str, width: int = 160) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= width else flat[: width - 1] + "…"
