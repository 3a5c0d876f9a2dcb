"""Analysis: questions about data. The numbers come from pandas, the words mostly from rules.

1. Find the tables: files the request names (workspace, then current directory, or an absolute
   path), a CSV or a list of numbers pasted into the request, a table an earlier turn produced,
   else the newest table file in the session's workspace. Profile them deterministically.
2. If the request asks to use the thread's own function ("analyse it with that function"), run that
   code artifact on the data in the sandbox — after approval — and check it against pandas.
3. Answer by rules (tools.questions → tools.analysis_ops): filter, group-by aggregate, sort, top-n,
   correlation, time resampling, growth; or the plain "average/max/how many" answer; or an honest
   "I cannot tell from this data" with the reason — never a made-up number.
4. Draw the chart the question asks for (matplotlib, headless) as a "chart" artifact with its path.
5. Only what rules cannot answer goes to the model: a capable model writes pandas code that runs in
   the sandbox (after approval); the bundled small model reads the profile and says what it sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generator

from assistant.chains.analysis_steps import (
    CODEGEN_ASK,
    apply_function,
    compare_growth,
    draw_chart,
    table_file,
    thread_function,
)
from assistant.chains.base import (
    ChainResult,
    ChainRun,
    NewArtifact,
    PromptChain,
    short_title,
    stream_model,
)
from assistant.chains.steps import approval, is_small_model, tool_step
from assistant.events import Event, Token

if TYPE_CHECKING:
    import pandas as pd

SYSTEM = (
    "You are a careful data analyst. Answer the user's question using the table profile given as "
    "data, quoting its exact numbers. If the profile does not contain what is needed, say plainly that "
    "you cannot tell from this data. Be brief."
)
NO_DATA_NOTE = (
    "No table was found for this request: name a CSV/TSV/JSON/Excel/Parquet file in the workspace "
    "or current directory, or paste the CSV into the message."
)
NUMBERS = "the numbers given"
DATA_WORDS = ("csv", "table", "data", "column", "row", "spreadsheet", "file", "excel", "dataset")


@dataclass(frozen=True)
class FoundTable:
    name: str
    frame: "pd.DataFrame | None"
    problem: str = ""


def find_tables(run: ChainRun) -> list[FoundTable]:
    """The tables a request is about, in the order it names them; unreadable ones say why."""
    import pandas as pd

    from tools.tables import (
        TableError,
        inline_csv,
        inline_numbers,
        load_table,
        mentioned_paths,
        workspace_tables,
    )

    def read(path: Path, name: str) -> FoundTable:
        try:
            return FoundTable(name, load_table(path))
        except TableError as exc:
            return FoundTable(name, None, f"could not be read ({exc})")

    found: list[FoundTable] = []
    for name in mentioned_paths(run.request):
        given = Path(name).expanduser()
        candidates = [given] if given.is_absolute() else [run.workspace / name, run.cwd / name]
        path = next((p for p in candidates if p.is_file()), None)
        found.append(read(path, Path(name).name) if path else FoundTable(
            name, None, f"not found in the workspace ({run.workspace}) or {run.cwd}"))
    pasted = inline_csv(run.request)
    if pasted is not None:
        found.append(FoundTable("the pasted table", pasted))
    elif not found and (numbers := inline_numbers(run.request)):
        found.append(FoundTable(NUMBERS, pd.DataFrame({"value": numbers})))
    if not found:
        table = run.session.latest_artifact(kind="table")
        if table and table.path and Path(table.path).is_file():
            found.append(read(Path(table.path), table.title))
    if not found:
        found += [read(path, path.name) for path in workspace_tables(run.workspace)[:1]]
    return found


@dataclass
class AnalysisChain(PromptChain):
    def _profiles(self, run: ChainRun) -> list[str]:
        if "profiles" not in run.notes:
            from tools.tables import profile_table

            tables = find_tables(run)
            run.notes["tables"] = tables
            run.notes["profiles"] = [
                profile_table(t.frame, t.name).text if t.frame is not None else f"Table {t.name}: {t.problem}."
                for t in tables
            ]
        return run.notes["profiles"]

    def extra_context(self, run: ChainRun) -> list[str]:
        return ["<data kind=table-profile>\n" + p + "\n</data>" for p in self._profiles(run)]

    def run(self, run: ChainRun, messages) -> Generator[Event, None, ChainResult]:
        from tools.analysis_ops import Plan, execute
        from tools.questions import CannotTell, chart_kind, plan_question
        from tools.tables import answer_simple_question

        profiles = self._profiles(run)
        readable = [t for t in run.notes["tables"] if t.frame is not None]
        if not readable:
            return (yield from self._model_only(run, messages, profiles))
        table = readable[0]
        frame, name = table.frame, table.name
        findings: list[str] = []
        artifacts: list[NewArtifact] = []
        finding = None
        stepped = yield from _multi_step(run.request, frame, name)
        plan = None if stepped else plan_question(frame, _question(run.request, name))
        if stepped:
            findings.append(stepped)
        elif isinstance(plan, CannotTell):
            findings.append(plan.text)
        elif isinstance(plan, Plan):
            step = yield from tool_step("analyze_table", {"table": name, "op": plan.op, "column": plan.column,
                                                         "by": plan.by, "agg": plan.agg},
                                        lambda: execute(frame, plan, name), shown=lambda f: f.text)
            finding = step.output if step.ok else None
            findings.append(finding.text if finding else f"The {plan.op} could not be computed: {step.error}")
        elif (direct := answer_simple_question(frame, _question(run.request, name), name)) is not None:
            findings.append(direct)

        used = thread_function(run)
        if isinstance(used, str):
            findings.append(used)
        elif used is not None:
            findings.append((yield from self._apply(run, used, frame, plan if isinstance(plan, Plan) else None)))

        kind = chart_kind(run.request)
        if kind and finding is not None:
            chart = yield from draw_chart(run, finding, finding.plan.chart or kind, name)
            if chart is not None:
                artifacts.append(chart)
                findings.append(f"Chart saved: {chart.path}")

        tokens = 0
        if findings:
            text = "\n\n".join(findings + profiles)
            yield Token(text)
        elif not is_small_model(run.model) and _asks_for_number(run.request):
            text, tokens = yield from self._generated_code(run, messages, frame, name, profiles)
        else:
            header = "\n\n".join(profiles) + "\n\n"
            yield Token(header)
            said, tokens = yield from stream_model(run.model, messages)
            text = header + said.strip()
        artifacts.insert(0, NewArtifact(kind="analysis", title=short_title(run.request), content=text))
        return ChainResult(text=text, artifacts=tuple(artifacts), tokens=tokens)

    def _apply(self, run: ChainRun, used, frame: "pd.DataFrame", plan) -> Generator[Event, None, str]:
        """Run the thread's function on the measure — one value per month when the table has dates."""
        import pandas as pd

        from tools.analysis_ops import Plan, month_column, prepare_frame, time_series

        frame, time_col = prepare_frame(frame)
        numeric = [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        column = plan.column if plan is not None and plan.column else _main_measure(numeric)
        if column is None:
            return f"Your function {used.name}() needs numbers, and this table has no numeric column."
        series, freq = time_series(frame, Plan("growth", column=column, agg="sum", time=time_col or month_column(frame),
                                                freq=plan.freq if plan is not None else None))
        what = f"the {len(series)} {'monthly ' if freq == 'M' else ''}values of {column}"
        sentence, result = yield from apply_function(run, used, series, what)
        check = compare_growth(result, series.pct_change() * 100) if "grow" in used.name.lower() or (
            plan is not None and plan.op == "growth") else ""
        return f"{sentence} {check}".strip()

    def _model_only(self, run: ChainRun, messages, profiles) -> Generator[Event, None, ChainResult]:
        about_data = any(word in run.request.lower() for word in DATA_WORDS) or profiles
        header = ("\n\n".join(profiles) if profiles else NO_DATA_NOTE) + "\n\n" if about_data else ""
        if header:
            yield Token(header)
        said, tokens = yield from stream_model(run.model, messages)
        text = header + said.strip()
        return ChainResult(text=text, artifacts=(NewArtifact("analysis", short_title(run.request), text),), tokens=tokens)

    def _generated_code(self, run: ChainRun, messages, frame, name: str, profiles: list[str]
                        ) -> Generator[Event, None, tuple[str, int]]:
        """A capable model writes pandas code for a question the rules cannot parse; it runs in the sandbox."""
        from langchain_core.messages import HumanMessage

        from assistant.chains.fences import ensure_fenced, main_block
        from tools.sandbox import run_python

        path = table_file(run, frame, name)
        asked = [messages[0], HumanMessage(CODEGEN_ASK.format(path=path, question=run.request))]
        answer, tokens = yield from stream_model(run.model, asked)
        code = main_block(ensure_fenced(answer))[1]
        profile = "\n\n".join(profiles)
        if not code:
            return answer.strip() + "\n\n" + profile, tokens
        verdict = yield from approval(run, code)
        if verdict is not True:
            note = ("Not run: you declined." if verdict is False else
                    "Not run: generated code runs only after approval (or with --auto-run).")
            yield Token("\n\n" + note)
            return f"{answer.strip()}\n\n{note}\n\n{profile}", tokens
        step = yield from tool_step("run_python", {"code": code}, lambda: run_python(code, workspace=run.workspace),
                                    shown=lambda r: {"exit_code": r.exit_code, "stdout": r.stdout[-1500:]})
        result = step.output
        if not step.ok or result.exit_code != 0 or not result.stdout.strip():
            problem = step.error or (result.stderr.strip().splitlines() or ["no output"])[-1]
            text = f"I cannot tell from this data: the generated pandas code failed ({problem})."
        else:
            text = "Computed with generated pandas code (run in the sandbox):\n```text\n" + \
                   result.stdout.strip()[-2000:] + "\n```"
        yield Token("\n\n" + text)
        return f"{text}\n\n{profile}", tokens


def _multi_step(request: str, frame: "pd.DataFrame", name: str) -> Generator[Event, None, str | None]:
    """Derive → filter/clean → measure, planned by rules (tools.plan_steps); None when it has no plan.
    A request the planner knows it cannot do (a unit conversion) gets that said instead of a number."""
    from tools.plan_steps import plan_steps
    from tools.plan_widen import out_of_scope
    from tools.run_steps import run_steps

    refused = out_of_scope(frame, request)
    if refused:
        return refused
    plan = plan_steps(frame, request)
    if plan is None:
        return None
    arguments = {"table": name, "values": [f"{m.stat}({', '.join(m.columns)})" for m in plan.measures]}
    step = yield from tool_step("analyze_steps", arguments, lambda: run_steps(frame, plan, name),
                                shown=lambda result: result.values)
    return step.output.text if step.ok else None


def _main_measure(numeric: list[str]) -> str | None:
    """The column a 'run it on the data' most likely means: revenue/sales/amount…, else the last number."""
    import re

    named = [c for c in numeric if re.search(r"revenue|sales|amount|total|value|price|income|profit", c, re.I)]
    return (named or numeric[-1:] or [None])[0]


def _question(request: str, table: str) -> str:
    """For a list of numbers given inline, the statistics asked for are about its one column."""
    return request + " of the value" if table == NUMBERS else request


def _asks_for_number(request: str) -> bool:
    """A computational question (what/which/how many/calculate…), not a request to describe or explain."""
    import re

    text = request.lower()
    if re.search(r"\b(?:describe|summari[sz]e|overview|explain|what stands out|tell me about|insight)", text):
        return False
    return bool(re.search(r"\b(?:what|which|how (?:many|much)|calculate|compute|find|count|percentage|ratio|rate)\b", text))


def analysis_chain() -> AnalysisChain:
    return AnalysisChain(
        name="analysis",
        description="questions about tables and data: statistics, group-bys, trends, charts",
        prefix="/analyze",
        system_prompt=SYSTEM,
    )
