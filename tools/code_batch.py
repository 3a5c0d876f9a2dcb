'''Several candidate solutions checked in ONE sandboxed run, plus their outputs on extra inputs.

    probes = probe_calls(suite, "add_one")          # ("add_one([2, 1])", "add_one([])", ...)
    checks = run_candidates([code_a, code_b], suite, probes, workspace=ws)
    checks[0].report.passed, checks[0].outputs       # 2, ("[3, 2]", "[]", ...)

Why one run: each sandboxed run pays a process start and the sandbox's set-up (about half a second
here), and a completion step checks several candidates at once. Each candidate is loaded into its
own fresh namespace by the same harness `tools.code_tests.run_tests` uses, so one candidate's
globals never leak into another's; each case and each probe has its own time limit.

Why probes: two docstring examples seldom tell apart candidates that pass them both. Calling every
candidate on inputs made by varying the examples' arguments (a list reversed or emptied, a number
moved by one, a string shortened) and comparing what they return lets the candidates vote, as in
CodeT / MBR-exec: the behaviour most of them share is most likely the intended one. No expected
output is needed, so probes are made by rules from the examples, never by a model.

If the batch dies as a whole (a candidate that exits the interpreter or exhausts memory), every
candidate is run again on its own, so one bad candidate does not cost the others their result.
'''

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from tools.code_tests import MARKER, TestReport, TestSuite, example_calls, parse_report, run_tests

__all__ = ["CandidateCheck", "probe_calls", "run_candidates"]

PROBES = 12                 # at most this many extra inputs
PROBE_SECONDS = 1.0         # per probe call
CASE_SECONDS = 2.0          # per example, inside a batch
_SPLIT = "@@THROUGHLINE-CANDIDATE@@"
_PROBED = "@@THROUGHLINE-PROBES@@"


@dataclass(frozen=True)
class CandidateCheck:
    """One candidate's examples report and its outputs on the probes (repr, or "!Error" when it raised)."""

    report: TestReport
    outputs: tuple[str, ...] = ()


def _variants(value: object) -> list[object]:
    """Values of the same type near `value`: what a probe passes instead of an example's argument."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, 0, -value, value * 3]
    if isinstance(value, float):
        return [value + 1.5, -value, 0.0, value / 2]
    if isinstance(value, str):
        return [value[::-1], value[1:], value.upper(), value + value[:1], "", value + " " + value]
    if isinstance(value, (list, tuple)):
        kind = type(value)
        items = list(value)
        out = [kind(items[::-1]), kind(items[1:]), kind(items + items[:1]), kind()]
        out += [kind(items[:i] + [v] + items[i + 1:]) for i, item in enumerate(items[:2]) for v in _variants(item)[:2]]
        return out
    if isinstance(value, dict):
        items = list(value.items())
        return [dict(items[1:]), dict(items[::-1]), {}]
    return []


def probe_calls(suite: TestSuite, name: str, limit: int = PROBES) -> tuple[str, ...]:
    """Calls of `name` on varied arguments of the examples' calls of it (literal arguments only)."""
    examples = [call for call in example_calls(suite, name) if not call.keywords]
    seen = {ast.unparse(call) for call in examples}
    rounds: list[list[str]] = []
    for call in examples:
        try:
            args = [ast.literal_eval(a) for a in call.args]
        except ValueError:
            continue
        mine = []
        for i, arg in enumerate(args):
            for value in _variants(arg):
                text = f"{name}({', '.join(repr(v) for v in args[:i] + [value] + args[i + 1:])})"
                if text not in seen:
                    seen.add(text)
                    mine.append(text)
        rounds.append(mine)
    probes: list[str] = []
    while len(probes) < limit and any(rounds):   # take from each example in turn, so all are varied
        for mine in rounds:
            if mine and len(probes) < limit:
                probes.append(mine.pop(0))
    return tuple(probes)


_BATCH = '''
import json as _j, signal as _s, sys as _y
def _limit(*_):
    raise TimeoutError("probe took too long")
for _i, _code in enumerate(_CODES):
    _y.__stdout__.write("\\n" + _SPLIT + "\\n"); _y.__stdout__.flush()
    _g = {"__name__": "_harness", "__builtins__": __builtins__, "_SOLUTION": _code, "_SETUP": _SETUP_,
          "_CASES": _CASES_, "_LIMIT": _CASE_S, "_MODULE": "solution", "_MARKER": _MARKER_}
    exec(compile(_HARNESS, "<harness>", "exec"), _g)
    _out = []
    _slow = any("_CaseTimeout" in _r[2] for _r in _g["_report"]["results"])
    if not _g["_report"]["load_error"]:
        _s.signal(_s.SIGALRM, _limit)
        for _call in _PROBES_:
            if _slow:   # an endless loop once is enough: the rest would only wait out their limits
                _out.append("!TimeoutError")
                continue
            try:
                _s.setitimer(_s.ITIMER_REAL, _PROBE_S)
                _out.append(repr(eval(_call, dict(_g["_ns"])))[:500])
            except BaseException as _e:
                _out.append("!" + type(_e).__name__)
                _slow = isinstance(_e, TimeoutError)
            finally:
                _s.setitimer(_s.ITIMER_REAL, 0)
    _y.__stdout__.write("\\n" + _PROBED + _j.dumps(_out) + "\\n"); _y.__stdout__.flush()
'''


def batch_script(codes: list[str], suite: TestSuite, probes: tuple[str, ...]) -> str:
    """The one script that checks every candidate: the harness per candidate, then the probes."""
    harness = Path(__file__).with_name("_test_harness.py").read_text(encoding="utf-8")
    cases = [(c.name, c.kind, c.source) for c in suite.cases]
    header = (f"_CODES = {codes!r}\n_SETUP_ = {suite.setup!r}\n_CASES_ = {cases!r}\n_CASE_S = {CASE_SECONDS!r}\n"
              f"_MARKER_ = {MARKER!r}\n_PROBES_ = {list(probes)!r}\n_PROBE_S = {PROBE_SECONDS!r}\n"
              f"_SPLIT = {_SPLIT!r}\n_PROBED = {_PROBED!r}\n_HARNESS = {harness!r}\n")
    return header + _BATCH


def run_candidates(codes: list[str], suite: TestSuite, probes: tuple[str, ...] = (), *,
                   workspace: str | Path, timeout: float = 60.0) -> list[CandidateCheck]:
    """Each candidate's report on `suite` and outputs on `probes`, in the order given."""
    from tools.sandbox import run_python

    if not codes:
        return []
    result = run_python(batch_script(codes, suite, probes), workspace=workspace, timeout=timeout)
    chunks = result.stdout.split("\n" + _SPLIT + "\n")[1:]
    if len(chunks) != len(codes) or not all(_PROBED in chunk for chunk in chunks):
        if len(codes) == 1:   # nothing to separate: the harness's own report says what went wrong
            return [CandidateCheck(run_tests(codes[0], suite, workspace=workspace, timeout=timeout))]
        return [check for code in codes for check in run_candidates([code], suite, probes,
                                                                     workspace=workspace, timeout=timeout)]
    checks = []
    for chunk in chunks:
        body, _, probed = chunk.rpartition("\n" + _PROBED)
        report = parse_report(body, "", result.exit_code, None, result.duration_s / len(codes))
        try:
            outputs = tuple(str(o) for o in json.loads(probed.strip().splitlines()[0]))
        except (ValueError, IndexError):
            outputs = ()
        checks.append(CandidateCheck(report, outputs))
    return checks
