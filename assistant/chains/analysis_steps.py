"""The analysis chain's steps that leave pandas-in-process: drawing a chart, running the thread's own
function on the data, and running model-written pandas code — the last two in the sandbox, after
approval, like any generated code.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generator

from assistant.chains.base import ChainRun, NewArtifact
from assistant.chains.steps import approval, tool_step
from assistant.events import Event

if TYPE_CHECKING:
    import pandas as pd

    from assistant.events import Artifact
    from tools.analysis_ops import Finding, Plan

RESULT_MARK = "@@RESULT@@"
_REFERS_TO_CODE = re.compile(
    r"\b(?:with|using|use|apply|run|through|via)\b[^.?!\n]{0,40}\b(?:it|that|this|the|my|our|your)\s+"
    r"(?:function|script|code|helper|method)\b|\b(?:with|using|apply|run)\s+it\b", re.I)


@dataclass(frozen=True)
class ThreadFunction:
    name: str
    artifact: "Artifact"


def thread_function(run: ChainRun) -> ThreadFunction | str | None:
    """The function from this thread's code artifact that the request asks to use: the function,
    a sentence saying why none can be used, or None when the request does not ask for one."""
    artifact = run.session.latest_artifact(kind="code")
    names = _function_names(artifact.content) if artifact else []
    named = [n for n in names if re.search(rf"\b{re.escape(n[0])}\b", run.request)]
    if not named and not _REFERS_TO_CODE.search(run.request):
        return None
    if artifact is None:
        return "There is no function in this thread to use yet; ask for one first (e.g. /code …)."
    if not names:
        return f"The thread's code ({artifact.title}) defines no function that could be applied to the data."
    one_arg = [name for name, required in (named or names) if required == 1]
    if not one_arg:
        name, required = (named or names)[0]
        return (f"Your function {name}() from {artifact.title} takes {required} arguments; to apply it to a "
                "column it must take one list of values.")
    return ThreadFunction(one_arg[0], artifact)


def _function_names(code: str) -> list[tuple[str, int]]:
    """(name, required positional arguments) of each top-level function; [] if the code does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [(n.name, len(n.args.args) - len(n.args.defaults)) for n in tree.body if isinstance(n, ast.FunctionDef)]


def apply_function(
    run: ChainRun, found: ThreadFunction, values: "pd.Series", what: str
) -> Generator[Event, None, tuple[str, list | None]]:
    """Run the thread's function on `values` in the sandbox; returns (a sentence, its result)."""
    from tools.code_fixes import keep_definitions
    from tools.sandbox import run_python

    data = [None if v != v else float(v) for v in values.tolist()]
    script = (keep_definitions(found.artifact.content).rstrip() + "\n\n"
              f"import json as _json\n_values = _json.loads({json.dumps(json.dumps(data))})\n"
              f"_result = {found.name}(_values)\n"
              f"print({RESULT_MARK!r} + _json.dumps(_result, default=str))\n")
    verdict = yield from approval(run, script)
    label = f"{found.name}() from {found.artifact.title}"
    if verdict is not True:
        why = "you declined to run it" if verdict is False else "code runs only after approval (or with --auto-run)"
        return f"Your function {label} was not run on {what}: {why}.", None
    step = yield from tool_step(
        "run_python", {"code": script, "purpose": f"apply {found.name} to {what}"},
        lambda: run_python(script, workspace=run.workspace, timeout=30),
        shown=lambda r: {"exit_code": r.exit_code, "stdout": r.stdout[-1500:], "stderr": r.stderr[-800:]},
    )
    if not step.ok:
        return f"Your function {label} could not be run: {step.error}.", None
    result = step.output
    line = next((out for out in reversed(result.stdout.splitlines()) if out.startswith(RESULT_MARK)), None)
    if line is None:
        error = (result.stderr.strip().splitlines() or [f"exit code {result.exit_code}"])[-1]
        return f"Your function {label} failed on {what}: {error}.", None
    try:
        value = json.loads(line[len(RESULT_MARK):])
    except ValueError:
        return f"Your function {label} returned something that is not data.", None
    return f"Your function {label}, run on {what}, returned: {_short(value)}.", value if isinstance(value, list) else [value]


def compare_growth(result: list | None, growth_pct: "pd.Series") -> str:
    """Whether a function's output agrees with pandas' growth (as fractions or as percentages)."""
    if not result:
        return ""
    expected = [v for v in growth_pct.tolist() if v == v]
    numbers = [v for v in result if isinstance(v, (int, float)) and v == v]
    if not numbers or not expected:
        return ""
    for scale in (100.0, 1.0):
        got = [v * scale for v in numbers][-len(expected):]
        if len(got) == len(expected) and all(abs(a - b) <= 0.05 + 0.001 * abs(b) for a, b in zip(got, expected)):
            return "It agrees with the growth pandas computes."
    return ("It does not agree with the growth pandas computes (shown above), so check the function; "
            "the figures above are pandas'.")


def _short(value: object, limit: int = 300) -> str:
    if isinstance(value, list):
        value = [round(v, 4) if isinstance(v, float) else v for v in value]
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def draw_chart(
    run: ChainRun, finding: "Finding", kind: str, name: str
) -> Generator[Event, None, NewArtifact | None]:
    """Render the finding's table to a PNG under the workspace's charts/; the artifact, or None."""
    from tools.charts import chart_path, render_chart

    if finding.table is None or finding.y is None:
        return None
    plan = finding.plan
    title = _chart_title(plan, name)
    path = chart_path(run.workspace / "charts", title)
    step = yield from tool_step(
        "plot_table", {"kind": kind, "x": finding.x, "y": finding.y, "title": title},
        lambda: render_chart(finding.table, kind=kind, x=finding.x, y=finding.y, title=title, path=path),
        shown=lambda p: {"path": str(p)},
    )
    if not step.ok:
        return None
    content = f"{kind.title()} chart: {title}. Image: {step.output}"
    return NewArtifact(kind="chart", title=title, content=content, path=str(step.output))


def _chart_title(plan: "Plan", name: str) -> str:
    from tools.analysis_ops import AGG_LABELS

    measure = plan.column or "rows"
    if plan.op in ("group", "top") and plan.by:
        return f"{AGG_LABELS.get(plan.agg, plan.agg).title()} {measure} by {plan.by}"
    if plan.op in ("resample", "growth"):
        return f"{measure.title()} over time"
    if plan.op == "correlation" and plan.other:
        return f"{plan.other} vs {plan.column}"
    return f"{measure} in {name}"


CODEGEN_ASK = (
    "Write Python code using pandas that answers the question below from the table in the file "
    "{path!r} (in the current directory). Load it, compute the answer, and print it with a short label. "
    "Use only columns that exist. If the table cannot answer it, print 'cannot tell from this data'. "
    "Answer with one ```python block.\n\nQuestion: {question}"
)


def table_file(run: ChainRun, frame: "pd.DataFrame", name: str) -> str:
    """A path, relative to the workspace, where sandboxed code can read this table (written if needed)."""
    for candidate in (run.workspace / name, run.workspace / Path(name).name):
        if candidate.is_file() and candidate.suffix.lower() in (".csv", ".tsv", ".jsonl", ".json"):
            return candidate.relative_to(run.workspace).as_posix()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem)[:40] or "table"
    target = run.workspace / "tables" / f"{stem}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(target, index=False)
    return target.relative_to(run.workspace).as_posix()
