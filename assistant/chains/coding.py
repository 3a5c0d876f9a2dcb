"""Coding: generate → extract the code → run it (after approval) → repair on failure → report.

Answers always come out fenced (assistant.chains.fences). Then the chain checks its own work:
- tests in the request — asserts, doctests, `test_` functions, "f(2) should return 4" — are found
  by rules (tools.code_tests), and the model is told the names they call;
- rule-based fixes that need no run are applied (tools.code_fixes: REPL prompts, a cut-off last
  line, missing imports, a renamed function);
- the code runs in the sandbox with the session's workspace as its only writable place — only after
  `ApprovalNeeded` is answered yes, or with auto-run; with neither, it says how to run it;
- a crash or a failed test goes first to the fixes a failed run calls for, then back to the model
  with the error, at most `max_repairs` times. The best attempt is kept, even if a repair was worse.
Code, the run's output and the test results become artifacts ("code", "output").

A model that continues text (the local ones) gets a function to write as a stub to continue instead
of a chat prompt: a stub the request pastes (assistant.chains.completion), or one written from a
request in words that tests one function (assistant.chains.written_stub). Candidates are sampled
and the request's examples choose among them; the repair loop follows only when none passes.
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
from assistant.chains.completion import BODY_TOKENS, BUDGET_S, Stub, can_continue, complete, completion_stub
from assistant.chains.written_stub import written_stub
from assistant.chains.fences import (  # noqa: F401  (re-exported: the coding chain's helpers)
    code_blocks,
    ensure_fenced,
    extract_code,
    fenced_stream,
    main_block,
    replace_code,
)
from assistant.chains.repair import (
    Attempt,
    deterministic_fix,
    execute,
    outcome_text,
    output_artifact,
    preview,
    repair_messages,
)
from assistant.chains.steps import approval, quietly, tuned
from assistant.events import Event, Token

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from tools.code_tests import TestSuite

SYSTEM = (
    "You are an expert Python programmer. Answer with complete, working code in a single fenced "
    "```python block, then explain it in one or two sentences. Keep the code short and correct."
)
NO_CODE_ASK = "Write the Python code now, in one ```python block, so that these tests pass:\n{tests}"
REPAIR_TEMPERATURE = 0.7  # a repair that repeated itself is retried with sampling
REPAIR_STOP = "\n```\n"
_PYTHON_LINE = re.compile(r"^\s*(?:def |class |import |from |print\(|\w+\s*=|>>> )", re.M)


def code_title(code: str, request: str) -> str:
    match = re.search(r"^\s*(?:def|class)\s+(\w+)", code, re.M)
    return f"{match.group(1)}.py" if match else short_title(request)


def runnable(language: str, code: str) -> bool:
    """Python we may try to run: a python (or untagged) block that looks like Python."""
    from tools.code_fixes import parses

    if language not in ("", "python", "py", "python3", "pycon"):
        return False
    return bool(_PYTHON_LINE.search(code)) or (parses(code) and bool(re.search(r"[\n(:]", code)))


def with_test_hint(messages: "list[BaseMessage]", suite: "TestSuite") -> "list[BaseMessage]":
    """Tell the model which names the tests call, so a small model keeps the function's name."""
    if not suite or not suite.calls:
        return messages
    from langchain_core.messages import HumanMessage

    them = "it" if len(suite.calls) == 1 else "them"
    hint = f"\n\n(The tests call: {', '.join(suite.calls)}. Define {them} with exactly that name.)"
    return [*messages[:-1], HumanMessage(str(messages[-1].content) + hint)]


def not_run_note(stopped: str, suite: "TestSuite") -> str:
    tests = f" against the {len(suite)} tests in your request" if suite else ""
    if stopped == "declined":
        return f"**Not run:** you declined. Approve it to check it{tests}."
    return ("**Not run:** generated code runs only after approval. Answer yes when the chat UI asks, "
            f"or pass `--auto-run` (Python API: `Assistant(auto_run=True)`) to run it{tests} in the sandbox.")


@dataclass
class CodingChain(PromptChain):
    max_repairs: int = 2  # model calls after the first answer, each shown the last error
    max_fixes: int = 2  # re-runs after rule-based fixes that a failed run called for
    timeout: float = 30.0  # wall-clock seconds for one sandboxed run

    def finish(self, text: str) -> str:
        return ensure_fenced(text)

    def artifacts(self, run: ChainRun, text: str) -> tuple[NewArtifact, ...]:
        code = extract_code(text)
        return (NewArtifact(kind="code", title=code_title(code, run.request), content=code),) if code else ()

    def run(self, run: ChainRun, messages: "list[BaseMessage]") -> Generator[Event, None, ChainResult]:
        from langchain_core.messages import AIMessage, HumanMessage

        from tools.code_fixes import static_fixes
        from tools.code_tests import extract_tests

        suite = extract_tests(run.request)
        stub = (completion_stub(run.request) or written_stub(run.request, suite)) if can_continue(run.model) else None
        if stub is not None:
            return (yield from self._complete(run, messages, suite, stub))
        asked = with_test_hint(messages, suite)
        text, tokens = yield from fenced_stream(stream_model(run.model, asked))
        text = self.finish(text)
        language, raw = main_block(text)
        repairs = 0
        if suite and not (raw and runnable(language, raw)) and self.max_repairs:
            # tests were given, so code is wanted: one more ask, counted as a repair
            repairs = 1
            yield Token(f"\n\n**Repair 1/{self.max_repairs}:** the answer has no Python code. Asking again.\n\n")
            again = [*asked, AIMessage(text), HumanMessage(NO_CODE_ASK.format(tests=suite.source()))]
            text, used = yield from fenced_stream(stream_model(run.model, again))
            tokens += used
            text = self.finish(text)
            language, raw = main_block(text)
        if not raw or not runnable(language, raw):
            return ChainResult(text=text, artifacts=self.artifacts(run, text), tokens=tokens)

        code, fixes = static_fixes(raw, suite.calls)
        first = Attempt(code, text, "first answer" if not repairs else "repair 1", fixes)
        attempts, stopped, tokens = yield from self._check(run, messages, suite, first, tokens, repairs)
        if not attempts:
            note = not_run_note(stopped, suite)
            yield Token("\n\n" + note)
            final = replace_code(text, raw, code) if code != raw else text
            return ChainResult(final + "\n\n" + note, self.artifacts(run, final), tokens)

        return (yield from self._report(run, attempts, suite, tokens))

    def _report(self, run: ChainRun, attempts: list[Attempt], suite: "TestSuite", tokens: int
                ) -> Generator[Event, None, ChainResult]:
        """The best attempt that ran, with what happened, as the answer and its artifacts."""
        best = max(attempts, key=lambda a: a.score)
        report = outcome_text(best, attempts, suite)
        yield Token("\n\n" + report)
        shown = main_block(best.answer)[1]
        final = replace_code(best.answer, shown, best.code) if shown != best.code else best.answer
        title = code_title(best.code, run.request)
        artifacts = (
            NewArtifact(kind="code", title=title, content=best.code),
            NewArtifact(kind="output", title=f"{title} run", content=output_artifact(title, best, attempts, suite)),
        )
        return ChainResult(text=final + "\n\n" + report, artifacts=artifacts, tokens=tokens)

    def _complete(self, run: ChainRun, messages: "list[BaseMessage]", suite: "TestSuite", stub: Stub
                  ) -> Generator[Event, None, ChainResult]:
        """A function to finish: candidates continued from its stub, the examples choose, repairs follow."""
        from tools.code_fixes import static_fixes

        def chat_answer() -> tuple[str, int]:
            """The code of the model's answer to the chat prompt: one more candidate (see `complete`)."""
            text, used = quietly(stream_model(tuned(run.model, max_new_tokens=BODY_TOKENS), with_test_hint(messages, suite)))
            language, raw = main_block(self.finish(text))
            return (static_fixes(raw, suite.calls)[0] if raw and runnable(language, raw) else ""), used

        started = time.perf_counter()
        attempts, tokens, stopped = yield from complete(run, stub, suite, chat_answer)
        best = attempts[0]
        yield Token("\n" + best.answer)
        if best.report is None:   # no examples to run, or nobody approved running them
            note = "\n\n" + not_run_note(stopped, suite) if stopped else ""
            yield Token(note)
            return ChainResult(best.answer + note, self.artifacts(run, best.answer), tokens)
        if not best.report.ok and self.max_repairs and time.perf_counter() - started < BUDGET_S:
            # no candidate passes and the budget is not spent: the repair loop, from the kept one
            # one repair at most here: each is a long chat call, and the candidates were the main try
            more, _, tokens = yield from self._check(run, messages, suite, best, tokens, self.max_repairs - 1)
            attempts = [*attempts, *more[1:]]   # more[0] is the kept candidate, already run
        return (yield from self._report(run, attempts, suite, tokens))

    def _check(
        self, run: ChainRun, messages: "list[BaseMessage]", suite: "TestSuite", attempt: Attempt, tokens: int,
        repairs: int = 0,
    ) -> Generator[Event, None, tuple[list[Attempt], str, int]]:
        """Run, fix, repair — bounded. Returns (the attempts that ran, why it stopped early, tokens).

        A repair that repeats an earlier attempt is not run again; the next repair samples
        (temperature > 0, on models that take it) so a greedy model does not loop."""
        from tools.code_fixes import static_fixes

        attempts: list[Attempt] = []
        pending: Attempt | None = attempt  # code waiting to run
        last = attempt  # the last attempt that ran: what a repair is shown
        reruns = 0
        vary = False
        while True:
            if pending is not None:
                if pending.report is None:   # not run yet (a completion candidate comes already run)
                    verdict = yield from approval(run, preview(pending.code, suite))
                    if verdict is not True:
                        return attempts, "declined" if verdict is False else "no-approver", tokens
                    pending.report = yield from execute(run, pending.code, suite, self.timeout)
                attempts.append(pending)
                last, pending = pending, None
                if last.report.ok:
                    return attempts, "", tokens
                fixed = deterministic_fix(last.code, last.report, suite)
                if fixed is not None and reruns < self.max_fixes:
                    reruns += 1
                    code, note = fixed
                    yield Token(f"\n\n*{last.report.summary()}: {note}; running it again.*\n")
                    pending = Attempt(code, last.answer, note, last.fixes + [note])
                    continue
            if repairs >= self.max_repairs:
                return attempts, "", tokens
            repairs += 1
            yield Token(f"\n\n**Repair {repairs}/{self.max_repairs}:** {last.report.summary()}. "
                        "Asking the model to fix it.\n\n")
            asked = repair_messages(messages, run.request, last, last.report, suite)
            model = tuned(run.model, temperature=REPAIR_TEMPERATURE) if vary else run.model
            # a repair's explanation is never shown: stop at the end of its code block
            answer, used = yield from fenced_stream(stream_model(model.bind(stop=[REPAIR_STOP]), asked))
            tokens += used
            answer = self.finish(answer)
            new = main_block(answer)[1]
            new, fixes = static_fixes(new, suite.calls) if new else (new, [])
            repeated = not new or any(new.strip() == a.code.strip() for a in attempts)
            vary = repeated
            if repeated:
                yield Token("\n\n*The repair repeated an earlier attempt" +
                            ("; trying a varied one.*\n" if repairs < self.max_repairs else ".*\n"))
                continue
            pending = Attempt(new, answer, f"repair {repairs}", fixes)


def coding_chain() -> CodingChain:
    return CodingChain(
        name="coding",
        description="writing, fixing and explaining code; runs it and its tests in the sandbox",
        prefix="/code",
        system_prompt=SYSTEM,
    )
