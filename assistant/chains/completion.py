"""Completing a function: the model continues the code itself, several candidates, execution picks.

A request that holds a Python function with its signature and docstring but no body ("Complete
this function: def f(xs): \"\"\"… >>> f([1]) …\"\"\"") is a completion task. A small model rewrites
such a function badly from a chat prompt (new name, lost edge cases, prose around the code), but
continues code well: the stub is given to it as plain text to continue (completion mode: a local
model continues a lone begun reply without a chat template; `assistant.local.local_chat`), so what
it writes next is the body. Stop sequences end a candidate at the end of the function.

Candidates, in rounds: greedy from the docstring's end, greedy with a one-line hint (the body begun
with `return`), then samples (SAMPLE_TEMPERATURE). Identical programs (same syntax tree) are run
once but counted as often as they were written. Each round's new candidates are checked in ONE
sandboxed run (tools.code_batch): the docstring's examples, plus calls on inputs varied from the
examples (probes). The kept candidate is the one that passes most examples, then the one whose
probe outputs most candidates share (agreement, as in CodeT / MBR-exec), then the shortest.

How many samples: more is better while the examples can tell them apart. Over the first 19 tasks
of bench_completion, 14 candidates passed the hidden tests for 8 tasks, 4 candidates for 4. A
model that decodes several samples of one prompt together (the local model's `sample_replies`: 8
rows cost ~1.7x one here) gets BATCH of them a round in one call, for up to BATCH_ROUNDS rounds;
any other model gets FIRST_ROUND candidates, then SECOND_ROUND more, one call each.

The first round always runs whole: with fewer candidates there is nothing to select among, and
the chain would only repeat its own greedy answer (on a loaded machine a wall-clock budget cut it to
one or two). Another round runs only when no candidate passes every example and the step is within
BUDGET_S seconds. Samples are cut at SAMPLE_TOKENS: a sampled body that runs on is seldom the right
one, and at 256 tokens it cost minutes on a busy CPU. The model's answer to the ordinary chat
prompt joins the second round as one more candidate: now and then it is right where every
continuation is wrong. The coding chain's repair loop takes over only when no candidate passes.
"""

from __future__ import annotations

import ast
import re
import textwrap
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Generator

from assistant.chains.base import ChainRun, stream_model
from assistant.chains.fences import FENCE_RE
from assistant.chains.repair import Attempt
from assistant.chains.steps import LOCAL_MODEL_TYPE, approval, quietly, tool_step, tuned
from assistant.events import Event, Token

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from tools.code_batch import CandidateCheck
    from tools.code_tests import TestSuite

FIRST_ROUND = 4            # greedy, greedy with the one-line hint, 2 samples
SECOND_ROUND = 3           # more samples, only when no candidate passes every example
BATCH = 8                  # samples a round, decoded together, for a model that can
BATCH_ROUNDS = 4           # rounds at most for such a model (a round costs it ~2-4 s), within BUDGET_S
BUDGET_S = 20.0            # no round after the first is started after this many seconds of the step
SAMPLE_TEMPERATURE = 0.8
BODY_TOKENS = 256          # a greedy function body seldom needs more
SAMPLE_TOKENS = 128        # a sampled body longer than this is seldom the right one
STOP = ["\n```", "\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ", "\n#", '\n"""', "\n\n\n"]
# Three spaces, not four: the tokenizer splits an indented line as "\n   " + " return", so a prompt
# ending in the usual split is one the model knows how to go on from (token healing, by hand).
BODY_INDENT = "   "
HINT = " return"           # the one-line hint: a body that is a single expression
ASKING_ELSE = re.compile(r"\b(?:explain|why|review|translate|convert|rewrite|refactor|document|"
                         r"(?:unit )?tests? for|write tests?|time complexity|what does)\b", re.I)


@dataclass(frozen=True)
class Stub:
    """The code to continue: everything up to the end of the function's docstring."""

    prefix: str
    name: str


# Where code may begin in a request without a fence: at a line's start or after prose on the same
# line ("Complete this Python function: from typing import List ..."), so the imports come along.
_CODE_START = re.compile(r"(?:^|(?<=[\s:]))(?:from [\w.]+ import |import \w|def \w+\s*\()", re.M)


def find_stub(request: str) -> Stub | None:
    """The last function in the request with a docstring and no body (or only `pass` / `...`).

    In fences, the last fenced block that holds one. Without a fence, the code from the earliest
    point it parses: a line's start, or after the request's words on the same line."""
    fenced = [m.group(2) for m in FENCE_RE.finditer(request)]
    blocks = reversed(fenced) if fenced else (request[m.start():] for m in _CODE_START.finditer(request))
    for block in blocks:
        stub = _stub_in(block)
        if stub is not None:
            return stub
    return None


def _stub_in(block: str) -> Stub | None:
    source = textwrap.dedent(block).rstrip()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in reversed(tree.body):
        if not isinstance(node, ast.FunctionDef) or not node.body:
            continue
        doc = node.body[0]
        has_doc = isinstance(doc, ast.Expr) and isinstance(getattr(doc, "value", None), ast.Constant) \
            and isinstance(doc.value.value, str)
        rest = node.body[1:]
        empty = all(isinstance(n, ast.Pass) or (isinstance(n, ast.Expr) and isinstance(
            getattr(n, "value", None), ast.Constant) and n.value.value is Ellipsis) for n in rest)
        if has_doc and empty:
            lines = source.splitlines()
            prefix = "\n".join(lines[: doc.end_lineno]) + "\n"
            return Stub(prefix=prefix, name=node.name)
    return None


def can_continue(model) -> bool:
    """Whether the model continues a begun reply (the local models do; chat APIs answer anew)."""
    return getattr(model, "_llm_type", "") == LOCAL_MODEL_TYPE


def completion_stub(request: str) -> Stub | None:
    """The stub when the request asks for its body and nothing else ("complete / implement / finish
    this"), not when the function is pasted to be explained, reviewed, translated or tested."""
    stub = find_stub(request)
    if stub is None:
        return None
    prose = FENCE_RE.sub(" ", request) if FENCE_RE.search(request) else request.split(stub.prefix.split("\n", 1)[0])[0]
    return None if ASKING_ELSE.search(prose) else stub


def continuation_messages(request: str, stub: Stub, hint: str = "") -> "list[BaseMessage]":
    """The stub alone, as a reply begun with nothing before it: the local model continues it as plain
    text, no chat template (a chat prompt makes a small model close the code block after the
    docstring). The body's indentation is given too, so the first thing it writes is the body."""
    from langchain_core.messages import AIMessage

    return [AIMessage(stub.prefix + BODY_INDENT + hint)]


def candidate_code(stub: Stub, continuation: str, hint: str = "") -> str:
    """The stub plus what the model wrote, without anything after the function that would not load."""
    from tools.code_fixes import keep_definitions, trim_incomplete

    body = continuation.split("```", 1)[0]
    return keep_definitions(trim_incomplete(stub.prefix + BODY_INDENT + hint + body.rstrip() + "\n"))


@dataclass
class Candidate:
    """One distinct program, how many times it was written, and what its check found."""

    code: str
    source: str           # "greedy", "hint", "sample N"
    written: int = 1
    check: "CandidateCheck | None" = None


def same_program(code: str) -> str:
    """A key equal for programs that differ only in layout or comments (their syntax tree)."""
    try:
        return ast.dump(ast.parse(code))
    except (SyntaxError, ValueError):
        return code.strip()


def add_candidate(pool: list[Candidate], code: str, source: str) -> bool:
    """Add a program to the pool, or count one more vote for it if it is already there; True if new."""
    key = same_program(code)
    for known in pool:
        if same_program(known.code) == key:
            known.written += 1
            return False
    pool.append(Candidate(code, source))
    return True


def ranked(pool: list[Candidate]) -> list[Candidate]:
    """Best first: most examples passed, then most agreement on the probes, then shortest, then earliest.

    Agreement is the number of written candidates (duplicates count) that loaded and gave the same
    outputs on every probe; a candidate that failed to load agrees with nobody."""
    checked = [c for c in pool if c.check is not None]
    votes: dict[tuple[str, ...], int] = {}
    for c in checked:
        if c.check.outputs and not c.check.report.load_error:
            votes[c.check.outputs] = votes.get(c.check.outputs, 0) + c.written

    def key(item: tuple[int, Candidate]) -> tuple:
        index, c = item
        report = c.check.report
        agreement = votes.get(c.check.outputs, 0) if c.check.outputs and not report.load_error else 0
        return (int(report.ok), report.passed, int(not report.load_error), agreement, -len(c.code), -index)

    return [c for _, c in sorted(enumerate(checked), key=key, reverse=True)]


def _plans(first: bool, batched: bool) -> list[tuple[str, str, float, int]]:
    """(source, hint, temperature, how many) of each model call of a round."""
    greedy = [("greedy", "", 0.0, 1), ("hint", HINT, 0.0, 1)] if first else []
    if batched:
        return greedy + [("sample", "", SAMPLE_TEMPERATURE, BATCH)]
    count, start = (FIRST_ROUND - 2, 1) if first else (SECOND_ROUND, FIRST_ROUND - 1)
    return greedy + [(f"sample {i}", "", SAMPLE_TEMPERATURE, 1) for i in range(start, start + count)]


def _continuations(run: ChainRun, stub: Stub, hint: str, temperature: float, count: int
                   ) -> tuple[list[str], int]:
    """`count` continuations of the stub (one greedy call, or samples) and the tokens they took."""
    messages = continuation_messages(run.request, stub, hint)
    if count > 1:
        return run.model.sample_replies(messages, count, max_new_tokens=SAMPLE_TOKENS, temperature=temperature,
                                        stop=STOP)
    options = ({"max_new_tokens": SAMPLE_TOKENS, "temperature": temperature} if temperature
               else {"max_new_tokens": BODY_TOKENS})
    text, used = quietly(stream_model(tuned(run.model, **options).bind(stop=STOP), messages))
    return [text], used


def complete(run: ChainRun, stub: Stub, suite: "TestSuite", chat_answer: "Callable[[], tuple[str, int]] | None" = None
             ) -> Generator[Event, None, tuple[list[Attempt], int, str]]:
    """Candidates in rounds, each round checked in one sandboxed run; returns (attempts best first,
    tokens, why it stopped without running: "declined" / "no-approver" / "").

    `chat_answer` (the code of the model's answer to the chat prompt, and its tokens) joins the
    second round's candidates when the first has none that passes every example: continuing a stub
    is usually the better try for a small model, but not always (bench_completion --written: 3 of
    53 functions only the chat answer got right)."""
    from tools.code_batch import probe_calls

    started = time.perf_counter()
    pool: list[Candidate] = []
    tokens = 0
    probes = probe_calls(suite, stub.name) if suite else ()
    batched = BATCH > 1 and can_continue(run.model) and callable(getattr(run.model, "sample_replies", None))
    drawn = 0
    for round_number in range(BATCH_ROUNDS if batched else 2):
        first = round_number == 0
        new: list[Candidate] = []
        for source, hint, temperature, count in _plans(first, batched):
            if not first and time.perf_counter() - started > BUDGET_S:
                break
            texts, used = _continuations(run, stub, hint, temperature, count)
            tokens += used
            for text in texts:
                drawn += 1
                label = source if count == 1 else f"{source} {drawn - 2}"
                if add_candidate(pool, candidate_code(stub, text, hint), label):
                    new.append(pool[-1])
            if not suite:   # nothing to select on: the greedy continuation it is
                return [_attempt(pool[0])], tokens, ""
        if round_number == 1 and chat_answer is not None and time.perf_counter() - started <= BUDGET_S:
            code, used = chat_answer()
            tokens += used
            if code and add_candidate(pool, code, "chat answer"):
                new.append(pool[-1])
        if new and first:
            shown = new[0].code + (f"\n# (and {len(new) - 1} other candidates, run the same way)\n" if len(new) > 1 else "")
            verdict = yield from approval(run, shown)
            if verdict is not True:
                return [_attempt(pool[0])], tokens, "declined" if verdict is False else "no-approver"
        if new:
            yield from check(run, new, suite, probes)
        if any(c.check.report.ok for c in pool if c.check) or time.perf_counter() - started > BUDGET_S:
            break
    best = ranked(pool)
    return [_attempt(c) for c in best], tokens, ""


def check(run: ChainRun, new: list[Candidate], suite: "TestSuite", probes: tuple[str, ...]
          ) -> Generator[Event, None, None]:
    """One sandboxed run for the round's new candidates, between ToolStarted and ToolFinished."""
    from tools.code_batch import CandidateCheck, run_candidates
    from tools.code_tests import TestReport

    yield Token(f"\n*Checking {len(new)} candidate{'s' if len(new) > 1 else ''} against the {len(suite)} "
                f"examples{f' and {len(probes)} varied inputs' if probes else ''}, in one sandboxed run.*\n")
    step = yield from tool_step(
        "run_candidates", {"candidates": len(new), "tests": len(suite), "probes": len(probes)},
        lambda: run_candidates([c.code for c in new], suite, probes, workspace=run.workspace),
        shown=lambda checks: {"summary": ", ".join(c.report.summary() for c in checks)},
    )
    for index, candidate in enumerate(new):
        candidate.check = step.output[index] if step.ok else CandidateCheck(
            TestReport(load_error=f"the sandbox could not run the code: {step.error}", exit_code=-1))


def _attempt(c: Candidate) -> Attempt:
    return Attempt(c.code, f"```python\n{c.code.rstrip()}\n```", c.source,
                   report=c.check.report if c.check else None)
