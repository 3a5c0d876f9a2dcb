'''Tests for generated code: found in a request, run against the code in the sandbox.

    suite = extract_tests("Make these pass:\\nassert add(1, 2) == 3\\n>>> add(2, 2)\\n4")
    report = run_tests("def add(a, b):\\n    return a + b", suite, workspace=ws)
    report.passed, report.failed        # 2, 0

What counts as a test in a request (deterministic, no model):
- `assert ...` statements, in a pasted block or on a line of their own;
- doctest examples (`>>> call` followed by the expected output), one case per example;
- pytest-style `def test_*()` functions and `unittest.TestCase` classes in pasted code;
- examples stated in prose or in a pasted function's docstring: `f(2) should return 4`,
  `f(2) returns 4`, `f(2) == 4`, `f(2) -> 4`, `f(2) ➞ 4`, `f(2) = 4`, whose result is a Python literal.
Imports in pasted test code become setup (an import that fails — `from solution import f` —
is skipped, since the code under test is already loaded). Other pasted code (the function to fix)
is not a test and is left for the model.

The harness loads the code as module `solution` (so an `if __name__ == "__main__":` block does not
run), then runs each case with its own time limit and reports every outcome on one JSON line,
so one failing or hanging case does not hide the others.
'''

from __future__ import annotations

import ast
import builtins
import doctest
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tools.base import tool

__all__ = ["CaseResult", "TestCase", "TestReport", "TestSuite", "build_harness", "extract_tests",
           "parse_report", "run_tests", "run_tests_tool"]

CaseKind = Literal["assert", "function", "doctest", "unittest"]
MARKER = "@@THROUGHLINE-TESTS@@"
PER_CASE_SECONDS = 5
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_CALL = r"(?P<call>[A-Za-z_][\w.]*\((?:[^()]|\([^()]*\))*\))"
# "f(2) should return 4", "f(2) == 4", "f(2) ➞ 4", "f(12, 15) = 14": a call, a word or arrow that
# states its result, then the result (read as a Python literal, see _literal_prefix)
_IMPLIED = re.compile(
    _CALL + r"[ \t]*(?:should\s+(?:return|give|be|equal|output)|returns|gives|must\s+return|==>|==|->|→|➞|➜|⟶|=>|=|is)"
    r"[ \t]*(?=(?P<rest>[^\n]+))", re.I)   # the rest is looked at, not consumed: it may hold the next example
# "Input: a = 1, b = 2  Output: 3" and "For a = 1 the output should be 3": named inputs, then the output
_INPUT_OUTPUT = re.compile(r"(?:\binput\s*:|\bfor\b)(?P<inputs>(?:(?!\binput\s*:|\boutput\b)[\s\S]){1,400}?)"
                           r"\b(?:output\s*:|the\s+output\s+(?:should\s+be|is|will\s+be))[ \t]*\n?[ \t]*(?=(?P<rest>[^\n]+))",
                           re.I)
_RESULT_CHARS = 200  # the longest stated result read (an example's value, not a data dump)
_BUILTIN_NAMES = set(dir(builtins))


@dataclass(frozen=True)
class TestCase:
    name: str
    kind: CaseKind
    source: str


@dataclass(frozen=True)
class TestSuite:
    cases: tuple[TestCase, ...] = ()
    setup: str = ""
    calls: tuple[str, ...] = ()  # names the tests call that they do not define: the code must

    def __bool__(self) -> bool:
        return bool(self.cases)

    def __len__(self) -> int:
        return len(self.cases)

    def source(self) -> str:
        """The tests as one readable Python text (for an approval prompt or an artifact)."""
        parts = [self.setup] if self.setup else []
        for case in self.cases:
            parts.append(_doctest_as_text(case.source) if case.kind == "doctest" else case.source)
        return "\n".join(p.rstrip() for p in parts if p.strip())


@dataclass(frozen=True)
class CaseResult:
    name: str
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class TestReport:
    """One harness run: the code's own output, its load error if any, and each case's outcome."""

    results: tuple[CaseResult, ...] = ()
    load_error: str = ""
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    killed_reason: str | None = None
    duration_s: float = 0.0

    @property
    def passed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def ok(self) -> bool:
        return not self.load_error and self.killed_reason is None and self.failed == 0 and (
            self.exit_code == 0 or bool(self.results))

    def summary(self) -> str:
        if self.killed_reason:
            return f"the run was stopped ({self.killed_reason} limit)"
        if self.load_error:
            return "the code failed to load: " + self.load_error.strip().splitlines()[-1]
        if not self.results:
            return "ran without errors" if self.exit_code == 0 else f"exited with code {self.exit_code}"
        return f"{self.passed}/{len(self.results)} tests passed"

    def errors_text(self, limit: int = 1200) -> str:
        """What went wrong, compact enough to show a model: load error, then failed cases."""
        parts = []
        if self.killed_reason:
            parts.append(f"The run was stopped by the sandbox ({self.killed_reason} limit); "
                         "look for an infinite loop or a huge allocation.")
        if self.load_error:
            parts.append(self.load_error.strip())
        for result in self.results:
            if not result.ok:
                error = result.error.strip()
                parts.append(error if error.startswith(result.name) else f"{result.name}: {error}")
        if not parts and self.exit_code:
            parts.append(self.stderr.strip()[-limit:])
        text = "\n".join(parts)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def brief_errors(self, limit: int = 500) -> str:
        """One line per problem — the failed assert and what came back, or the exception — for a small
        model, which a full traceback only confuses."""
        lines = []
        if self.killed_reason:
            lines.append(f"It was stopped by the sandbox ({self.killed_reason} limit): an endless loop?")
        if self.load_error:
            tail = [line.strip() for line in self.load_error.strip().splitlines() if line.strip()]
            lines.append("Loading it failed: " + " ".join(tail[-2:]))
        for result in self.results:
            if result.ok:
                continue
            error = result.error.strip()
            last = error.splitlines()[-1].strip() if error else "failed"
            lines.append(error.split("\n")[0] if "# but" in error else f"{result.name} -> {last}")
        text = "\n".join(lines) or self.errors_text(limit)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(), "passed": self.passed, "failed": self.failed,
            "results": [{"name": r.name, "ok": r.ok, "error": r.error} for r in self.results],
            "load_error": self.load_error, "stdout": self.stdout[-4000:], "stderr": self.stderr[-4000:],
            "exit_code": self.exit_code, "killed_reason": self.killed_reason,
        }


# -- finding tests -----------------------------------------------------------------------------

def extract_tests(text: str) -> TestSuite:
    """The tests a request contains or states; an empty suite when it has none."""
    cases: list[TestCase] = []
    setup: list[str] = []
    seen: set[str] = set()

    def add(kind: CaseKind, source: str, name: str | None = None) -> None:
        key = re.sub(r"\s+", "", source)
        if key in seen:
            return
        seen.add(key)
        label = name or (source.strip().splitlines()[0][:80] if kind != "doctest" else
                         "doctest " + source.strip().splitlines()[0][4:80])
        cases.append(TestCase(label, kind, source.strip("\n")))

    for example in _doctest_examples(text):
        add("doctest", example)
    blocks = [m.group(2) for m in _FENCE.finditer(text)]
    prose = _FENCE.sub("\n", text)
    for block in blocks + [prose]:
        parsed = _parse_block(block)
        if parsed is None:
            for line in block.splitlines():
                if re.match(r"\s*assert\b", line) and _parse_block(line.strip()) is not None:
                    add("assert", line.strip())
            continue
        tree, source = parsed
        body_has_tests = any(_is_test_node(node) for node in tree.body)
        for node in tree.body:
            segment = ast.get_source_segment(source, node) or ""
            if isinstance(node, ast.Assert):
                add("assert", segment)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                add("function", _with_decorators(source, node), node.name)
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                add("unittest", _with_decorators(source, node), node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and body_has_tests:
                if segment not in setup:
                    setup.append(segment)
    for statement in _stated_examples([prose, *(_docstrings(block) for block in blocks)]):
        add("assert", statement)
    for statement in _input_output_examples(text):
        add("assert", statement)
    calls = _called_names(cases, setup)
    return TestSuite(tuple(cases), "\n".join(setup), calls)


def _stated_examples(texts: list[str]) -> list[str]:
    """`assert call == result` for each example stated in words or arrows in `texts` (prose, or a
    function's docstring), when the result reads as a Python literal."""
    found = []
    for text in texts:
        for match in _IMPLIED.finditer(text):
            call, want = match.group("call"), _literal_prefix(match.group("rest"))
            if want is None or re.match(r"(?:print|len|range|str|int)\(", call) or not _literal_arguments(call):
                continue
            statement = f"assert {call} == {want}"
            if _parse_block(statement) is not None:
                found.append(statement)
    return found


def _input_output_examples(text: str) -> list[str]:
    """`assert f(...) == output` for each example given as named inputs and an output, as coding
    exercises state them ("Input: nums = [2, 7], target = 9  Output: [0, 1]", "Input: grid : [[1]]
    capacity : 1  Output: 6", "For lst = [1,2,3] the output should be 6"), `f` being the function
    of `text` whose parameters the inputs name (a one-parameter function may go unnamed)."""
    functions = _signatures(text)
    found = []
    for match in _INPUT_OUTPUT.finditer(text):
        inputs, want = match.group("inputs"), _literal_prefix(match.group("rest"))
        if want is None:
            continue
        for name, params, required in functions:
            values = [_named_value(inputs, p) for p in params]
            if len(params) == 1 and values[0] is None:
                values = [_literal_prefix(inputs)]
            if any(v is None for v in values[:required]):
                continue
            call = f"{name}({', '.join(v for v in values if v is not None)})"
            statement = f"assert {call} == {want}"
            if _literal_arguments(call) and _parse_block(statement) is not None:
                found.append(statement)
                break
    return found


def _signatures(text: str) -> list[tuple[str, list[str], int]]:
    """(name, parameter names, how many of them have no default) of each function defined in `text`."""
    found = []
    for match in re.finditer(r"(?<![\w.])def[ \t]+(\w+)[ \t]*(\((?:[^()]|\([^()]*\))*\))", text):
        try:
            args = ast.parse(f"def f{match.group(2)}: pass").body[0].args  # type: ignore[attr-defined]
        except SyntaxError:
            continue
        params = [a.arg for a in [*args.posonlyargs, *args.args] if a.arg not in ("self", "cls")]
        if params:
            found.append((match.group(1), params, len(params) - len(args.defaults)))
    return found


def _named_value(inputs: str, param: str) -> str | None:
    """The literal given for `param` in "a = 1, b = [2]" or "a : 1\n b : [2]", else None."""
    match = re.search(rf"(?<![\w.]){re.escape(param)}[ \t]*[:=](?!=)[ \t]*", inputs)
    return _literal_prefix(inputs[match.end():]) if match else None


def _literal_prefix(rest: str) -> str | None:
    """The longest start of `rest` that is a Python literal ("[[1], [2]] for two lists" -> "[[1], [2]]",
    "3." -> "3"), or None: words and names are not results a test can check."""
    rest = rest.strip()[:_RESULT_CHARS]   # each length is parsed: a pasted 1 MB line must not cost minutes
    for end in range(len(rest), 0, -1):
        piece = rest[:end].rstrip()
        if (end < len(rest) and not rest[end].isspace() and rest[end] not in ",;:.") or piece.endswith((".", ",")):
            continue   # a result ends before a space or a sentence's punctuation ("14." ends a sentence)
        try:
            value = ast.literal_eval(piece)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, tuple) and not piece.startswith("("):
            continue   # "4, and f(3) ..." is the 4 before a comma of the sentence, not a tuple
        return piece
    return None


def _literal_arguments(call: str) -> bool:
    """Whether every argument of the call is a literal (an example shows values, not names)."""
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError:
        return False
    try:
        for arg in [*node.args, *(k.value for k in node.keywords)]:  # type: ignore[attr-defined]
            ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError, AttributeError, RecursionError):
        return False
    return isinstance(node, ast.Call)


def _docstrings(block: str) -> str:
    """The docstrings of the functions and classes in a code block ("" if it does not parse): where a
    pasted function states its examples; its code is not read for them."""
    try:
        tree = ast.parse(textwrap.dedent(block))
    except SyntaxError:
        return ""
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))]
    return "\n".join(ast.get_docstring(n, clean=True) or "" for n in nodes)


def _doctest_examples(text: str) -> list[str]:
    examples = []
    fenced = [m.group(2) for m in _FENCE.finditer(text)]
    for index, block in enumerate(fenced + [_FENCE.sub("\n", text)]):
        in_prose = index == len(fenced)
        if ">>>" not in block:
            continue
        try:
            found = doctest.DocTestParser().get_examples(textwrap.dedent(block))
        except ValueError:  # inconsistent indentation: try line by line
            found = doctest.DocTestParser().get_examples(
                "\n".join(line.strip() for line in block.splitlines()))
        for example in found:
            source = "".join(">>> " + line + "\n" if i == 0 else "... " + line + "\n"
                             for i, line in enumerate(example.source.rstrip("\n").splitlines()))
            want = re.sub(r"^\s*(?:\"\"\"|\'\'\')\s*\n?\Z", "", example.want, flags=re.M)  # a docstring's closing quotes
            if in_prose:  # in prose the expected output is one line; the next line is more prose
                want = want.splitlines(keepends=True)[0] if want else want
            examples.append(source + want)
    return examples


def _doctest_as_text(source: str) -> str:
    return "\n".join("# " + line for line in source.rstrip().splitlines())


def _parse_block(block: str) -> tuple[ast.Module, str] | None:
    source = textwrap.dedent(block).strip("\n")
    if not source.strip() or ">>>" in source:
        source = "\n".join(line for line in source.splitlines() if not re.match(r"\s*(>>>|\.\.\.)", line))
    try:
        return ast.parse(source), source
    except (SyntaxError, ValueError):
        return None


def _is_test_node(node: ast.stmt) -> bool:
    return isinstance(node, ast.Assert) or (
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name.lower().startswith("test"))


def _with_decorators(source: str, node: ast.stmt) -> str:
    lines = source.splitlines()
    start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]) - 1
    return textwrap.dedent("\n".join(lines[start:node.end_lineno]))


def _called_names(cases: list[TestCase], setup: list[str]) -> tuple[str, ...]:
    defined: set[str] = set()
    called: list[str] = []
    for source in setup + [c.source for c in cases]:
        code = "\n".join(line[4:] for line in source.splitlines() if line.startswith((">>> ", "... "))) \
            if source.startswith(">>>") else source
        try:
            tree = ast.parse(textwrap.dedent(code))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.Import) or (
                    isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in sys.stdlib_module_names):
                defined.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                called.append(node.func.id)
    wanted = [n for n in dict.fromkeys(called) if n not in defined and n not in _BUILTIN_NAMES]
    return tuple(wanted)


def example_calls(suite: TestSuite, name: str) -> list[ast.Call]:
    """The calls of `name` in the suite's cases, in order (a doctest's source lines without their
    prompts): what the examples pass to the function."""
    found: list[ast.Call] = []
    for case in suite.cases:
        lines = [line[4:] for line in case.source.splitlines() if line.startswith((">>> ", "... "))]
        source = "\n".join(lines) if case.kind == "doctest" else case.source
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        found += [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                  and n.func.id == name]
    return found


# -- running them --------------------------------------------------------------------------------

_HARNESS = Path(__file__).with_name("_test_harness.py")



def build_harness(code: str, suite: TestSuite, *, per_case_seconds: float = PER_CASE_SECONDS) -> str:
    """The script that loads `code` and runs `suite`; its last stdout line is the JSON report."""
    cases = [(c.name, c.kind, c.source) for c in suite.cases]
    module = "solution" if suite else "__main__"
    header = (f"_SOLUTION = {code!r}\n_SETUP = {suite.setup!r}\n_CASES = {cases!r}\n"
              f"_LIMIT = {float(per_case_seconds)!r}\n_MODULE = {module!r}\n_MARKER = {MARKER!r}\n")
    return header + _HARNESS.read_text(encoding="utf-8")


def parse_report(stdout: str, stderr: str, exit_code: int, killed_reason: str | None,
                 duration_s: float = 0.0) -> TestReport:
    """Split the harness's stdout into the code's own output and the report line."""
    head, sep, tail = stdout.rpartition("\n" + MARKER)
    if not sep:
        return TestReport(load_error="" if killed_reason else (stderr.strip()[-1500:] or
                          f"the harness ended without a report (exit code {exit_code})"),
                          stdout=stdout, stderr=stderr, exit_code=exit_code,
                          killed_reason=killed_reason, duration_s=duration_s)
    try:
        data = json.loads(tail.strip().splitlines()[0])
    except (ValueError, IndexError):
        data = {"results": [], "load_error": "the test report was unreadable"}
    results = tuple(CaseResult(str(n), bool(ok), str(err)) for n, ok, err in data.get("results", []))
    return TestReport(results=results, load_error=data.get("load_error", ""), stdout=head, stderr=stderr,
                      exit_code=exit_code, killed_reason=killed_reason, duration_s=duration_s)


def run_tests(code: str, suite: TestSuite, *, workspace: str | Path, timeout: float = 30) -> TestReport:
    """Run `code` (and `suite`, if any) in the sandbox with the workspace as its directory."""
    from tools.sandbox import run_python

    result = run_python(build_harness(code, suite), workspace=workspace, timeout=timeout)
    return parse_report(result.stdout, result.stderr, result.exit_code, result.killed_reason, result.duration_s)


@tool(name="run_tests", injected=("workspace",))
def run_tests_tool(code: str, tests: str, workspace: str | Path, timeout: float = 30) -> dict[str, Any]:
    """Run Python code against tests (asserts, doctests, test_ functions) in the sandbox.

    Args:
        code: the code under test.
        tests: the tests, as Python source or doctest examples.
        timeout: wall-clock seconds for the whole run.
    """
    suite = extract_tests(f"```python\n{tests}\n```") if ">>>" not in tests else extract_tests(tests)
    if not suite:
        raise ValueError("no tests found: give assert statements, doctest examples or test_ functions")
    return run_tests(code, suite, workspace=workspace, timeout=min(float(timeout), 120.0)).as_dict()
