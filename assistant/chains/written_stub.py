"""A function asked for in words, with its examples, made into a stub the model continues.

"Write a Python function fib(n) that returns the n-th Fibonacci number.\nassert fib(10) == 55" has no
code to continue, so the coding chain used to answer it from a chat prompt: one greedy answer and
repairs. A small model does much better continuing a stub (`assistant.chains.completion`: candidates
sampled together, the examples choose), so the request is written as one first, the way function-
completion tasks are posed:

    def fib(n):
        \"\"\"Returns the n-th Fibonacci number.

        >>> fib(10)
        55
        \"\"\"

The signature is the one the request writes ("fib(n)"), else one argument per value the first
example passes, named by its type. Only for a request in words that tests exactly one Python
function: one that pastes code, names a class or another language, or asks for something else
about the function (explain it, write tests for it) keeps the chat path.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from assistant.chains.completion import ASKING_ELSE, Stub
from assistant.chains.fences import FENCE_RE

if TYPE_CHECKING:
    from tools.code_tests import TestSuite

_OTHER_LANGUAGE = re.compile(r"(?<!\w)(?:javascript|typescript|java|kotlin|swift|rust|golang|c\+\+|c#|ruby|php|perl|"
                             r"bash|shell|powershell|scala|haskell|lua|matlab|sql|html|css|node(?:\.js)?|react)(?!\w)", re.I)
_NOT_A_FUNCTION = re.compile(r"\b(?:class|classes|script|program|app|cli|module|package|api|endpoint)\b", re.I)
_TEST_LINE = re.compile(r"^\s*(?:assert\b|>>>|\.\.\.)")
# "Write a Python function fib(n) that", "Create a function to", "Implement is_prime(n):"
_LEAD = r"^\s*(?:please\s+)?(?:write|create|implement|make|define|code|build|give\s+me)\s+(?:me\s+)?(?:an?\s+)?" \
        r"(?:python\s+)?(?:function|def)?\s*(?:called\s+|named\s+)?"
_TYPE_NAMES = {int: "n", float: "x", str: "s", bool: "flag", list: "items", tuple: "items", dict: "mapping",
               set: "items"}


def written_stub(request: str, suite: "TestSuite") -> Stub | None:
    """The stub for a request in words that tests one function, else None (see the module)."""
    if not suite or FENCE_RE.search(request) or re.search(r"(?<![\w.])def\s+\w+\s*\(", request):
        return None
    names = [n for n in suite.calls if n.isidentifier()]
    if len(names) != 1:
        return None
    name = names[0]
    prose = _prose(request)
    if not prose or ASKING_ELSE.search(prose) or _OTHER_LANGUAGE.search(prose) or _NOT_A_FUNCTION.search(prose):
        return None
    params = _written_params(prose, name) or _params_from_examples(suite, name)
    if params is None:
        return None
    examples = _doctests(suite, name)
    if not examples:
        return None
    doc = _description(prose, name)
    body = "\n\n".join(part for part in (doc, "\n".join(examples)) if part).replace('"""', "'''")
    docstring = "\n".join(("    " + line) if line else "" for line in body.splitlines())
    quote = 'r"""' if "\\" in docstring else '"""'   # a request's "\d" stays as written, without a warning
    prefix = f'def {name}({params}):\n    {quote}{docstring.lstrip()}\n    """\n'
    try:
        ast.parse(prefix + "    pass\n")
    except SyntaxError:
        return None
    return Stub(prefix=prefix, name=name)


def _prose(request: str) -> str:
    """The request without its test lines (an `assert`, a doctest and the output line after it)."""
    kept, after_prompt = [], False
    for line in request.splitlines():
        if _TEST_LINE.match(line):
            after_prompt = line.lstrip().startswith((">>>", "..."))
            continue
        if after_prompt and line.strip():
            after_prompt = False
            continue   # a doctest's expected output
        after_prompt = False
        kept.append(line)
    return "\n".join(kept).strip()


def _written_params(prose: str, name: str) -> str | None:
    """The parameters the request writes for the function ("fib(n)", "clamp(x, lo, hi)"), if any."""
    for match in re.finditer(rf"(?<![\w.]){re.escape(name)}\s*\(([^()]*)\)", prose):
        try:
            args = ast.parse(f"def f({match.group(1)}): pass").body[0].args  # type: ignore[attr-defined]
        except SyntaxError:
            continue   # a call with values ("fib(10) should return 55"), not parameters
        if args.args or args.posonlyargs or args.vararg:
            return match.group(1).strip()
    return None


def _params_from_examples(suite: "TestSuite", name: str) -> str | None:
    """One parameter per value the first example passes, named by its type (n, s, items, …); a
    name given twice is numbered each time (n1, n2)."""
    from collections import Counter

    from tools.code_tests import example_calls

    calls = example_calls(suite, name)
    if not calls or calls[0].keywords:
        return None
    bases = [_TYPE_NAMES.get(type(_literal(arg)), "value") for arg in calls[0].args]
    total, seen = Counter(bases), Counter[str]()
    params = []
    for base in bases:
        seen[base] += 1
        params.append(f"{base}{seen[base]}" if total[base] > 1 else base)
    return ", ".join(params)


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None


def _doctests(suite: "TestSuite", name: str) -> list[str]:
    """The examples as doctest lines: `assert f(x) == y` -> ">>> f(x)" and "y"."""
    lines: list[str] = []
    for case in suite.cases:
        if case.kind == "doctest":
            lines += [line.strip() for line in case.source.splitlines() if line.strip()]
            continue
        if case.kind != "assert":
            continue
        try:
            test = ast.parse(case.source).body[0]
        except (SyntaxError, IndexError):
            continue
        if not isinstance(test, ast.Assert):
            continue
        check = test.test
        if isinstance(check, ast.Compare) and len(check.ops) == 1 and isinstance(check.ops[0], ast.Eq):
            call, want = ast.unparse(check.left), ast.unparse(check.comparators[0])
        elif isinstance(check, ast.UnaryOp) and isinstance(check.op, ast.Not):
            call, want = ast.unparse(check.operand), "False"
        else:
            call, want = ast.unparse(check), "True"
        if f"{name}(" in call and "\n" not in call + want:
            lines += [f">>> {call}", want]
    return lines


def _description(prose: str, name: str) -> str:
    """The request's words as a docstring's: without "Write a Python function f(x) that", capitalised."""
    text = re.sub(_LEAD + rf"(?:{re.escape(name)}\s*(?:\([^()]*\))?)?\s*(?:that|which|to|:|,|-)?\s*", "", prose,
                  count=1, flags=re.I)
    text = " ".join(text.split())
    return (text[:1].upper() + text[1:]) if text else ""
