"""Completing a function: the model continues the code itself, several candidates, the examples pick.

A request that holds a Python function with its signature and docstring but no body ("Complete
this function: def f(xs): \"\"\"… >>> f([1]) …\"\"\"") is a completion task. A small model rewrites
such a function badly from a chat prompt (new name, lost edge cases, prose around the code), but
continues code well: the stub is given to it as plain text to continue (completion mode: a local
model continues a lone begun reply without a chat template; `assistant.local.local_chat`), so what
it writes next is the body.

Then execution picks: the first candidate is greedy, the next ones are sampled (temperature
SAMPLE_TEMPERATURE), at most CANDIDATES of them and no new one after BUDGET_S seconds; each runs
against the examples of the docstring (doctests found by tools.code_tests) in the sandbox, and the
one that passes most of them is kept (ties: the earlier, so greedy first). Sampling stops as soon
as one passes them all. The coding chain's repair loop takes over from the kept candidate.
"""

from __future__ import annotations

import ast
import re
import textwrap
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generator

from assistant.chains.base import ChainRun, stream_model
from assistant.chains.fences import FENCE_RE
from assistant.chains.repair import Attempt, execute
from assistant.chains.steps import LOCAL_MODEL_TYPE, approval, quietly, tuned
from assistant.events import Event, Token

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from tools.code_tests import TestSuite

CANDIDATES = 4             # at most this many completions (1 greedy + 3 sampled)
BUDGET_S = 45.0            # no new candidate is started after this many seconds of the step
SAMPLE_TEMPERATURE = 0.8
BODY_TOKENS = 256          # a function body seldom needs more; the budget is per candidate
STOP = ["\n```", "\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ", "\n#", '\n"""', "\n\n\n"]
# Three spaces, not four: the tokenizer splits an indented line as "\n   " + " return", so a prompt
# ending in the usual split is one the model knows how to go on from (token healing, by hand).
BODY_INDENT = "   "


@dataclass(frozen=True)
class Stub:
    """The code to continue: everything up to the end of the function's docstring."""

    prefix: str
    name: str


def find_stub(request: str) -> Stub | None:
    """The last function in the request with a docstring and no body (or only `pass` / `...`)."""
    blocks = [m.group(2) for m in FENCE_RE.finditer(request)]
    if not blocks:
        start = re.search(r"^(?:from \S+ import .*|import .*|def \w+\s*\(.*)$", request, re.M)
        blocks = [request[start.start():]] if start else []
    for block in reversed(blocks):
        source = textwrap.dedent(block).rstrip()
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
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


def continuation_messages(request: str, stub: Stub) -> "list[BaseMessage]":
    """The stub alone, as a reply begun with nothing before it: the local model continues it as plain
    text, no chat template (a chat prompt makes a small model close the code block after the
    docstring). The body's indentation is given too, so the first thing it writes is the body."""
    from langchain_core.messages import AIMessage

    return [AIMessage(stub.prefix + BODY_INDENT)]


def candidate_code(stub: Stub, continuation: str) -> str:
    """The stub plus what the model wrote, without anything after the function that would not load."""
    from tools.code_fixes import keep_definitions, trim_incomplete

    body = continuation.split("```", 1)[0]
    return keep_definitions(trim_incomplete(stub.prefix + BODY_INDENT + body.rstrip() + "\n"))


def complete(run: ChainRun, stub: Stub, suite: "TestSuite") -> Generator[Event, None, tuple[list[Attempt], int, str]]:
    """Candidates, each run against the examples; returns (attempts best first, tokens, why it stopped)."""
    messages = continuation_messages(run.request, stub)
    started = time.perf_counter()
    attempts: list[Attempt] = []
    seen: set[str] = set()
    tokens = 0
    for index in range(CANDIDATES):
        if index and time.perf_counter() - started > BUDGET_S:
            break
        options = {"max_new_tokens": BODY_TOKENS} | ({"temperature": SAMPLE_TEMPERATURE} if index else {})
        model = tuned(run.model, **options).bind(stop=STOP)
        text, used = quietly(stream_model(model, messages))   # candidates are shown once chosen
        tokens += used
        code = candidate_code(stub, text)
        if code.strip() in seen:
            continue
        seen.add(code.strip())
        attempt = Attempt(code, f"```python\n{code.rstrip()}\n```", "first answer" if index == 0 else f"sample {index}")
        if not suite:   # nothing to select on: the greedy continuation it is
            return [attempt], tokens, ""
        if not attempts:
            verdict = yield from approval(run, code + "\n# (and up to %d sampled variants, run the same way)\n"
                                          % (CANDIDATES - 1))
            if verdict is not True:
                return [attempt], tokens, "declined" if verdict is False else "no-approver"
        yield Token(f"\n*Candidate {len(attempts) + 1}: running it against the {len(suite)} examples.*\n")
        attempt.report = yield from execute(run, code, suite)
        attempts.append(attempt)
        if attempt.report.ok:
            break
    attempts.sort(key=lambda a: a.score, reverse=True)   # stable: among equals, the earlier stays first
    return attempts, tokens, ""

