"""The built-in tools, registered through the same `register(registry)` hook as any plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.base import tool

__all__ = ["register"]


@tool(name="run_python", injected=("workspace",))
def run_python_tool(code: str, workspace: str | Path, timeout: float = 30) -> dict[str, Any]:
    """Run Python code in the sandbox (confined to the workspace, time/memory/output limited).

    Args:
        code: the Python source to run.
        timeout: wall-clock seconds before the run is killed.
    """
    from tools.sandbox import run_python

    result = run_python(code, workspace=workspace, timeout=min(float(timeout), 120.0))
    return {
        "stdout": result.stdout, "stderr": result.stderr, "exit_code": result.exit_code,
        "timed_out": result.timed_out, "killed_reason": result.killed_reason, "files": result.files,
        "duration_s": round(result.duration_s, 3),
    }


@tool
def profile_table_file(path: str) -> str:
    """Profile a table file (CSV, TSV, JSON, JSON Lines, Excel, Parquet): shape, types, statistics.

    Args:
        path: the table file's path.
    """
    from tools.tables import load_table, profile_table

    return profile_table(load_table(path), Path(path).name).text


# Which chains each built-in is offered in when a model calls tools itself, and which ones change
# something (the person approves each call). Reading a file outside the workspace counts.
WRITING, CODING, ANALYSIS = "writing", "coding", "analysis"
_DECLARED: dict[str, tuple[tuple[str, ...], bool]] = {
    "word_count": ((WRITING,), False), "sentence_count": ((WRITING,), False),
    "reading_level": ((WRITING,), False), "outline": ((WRITING,), False), "diff_texts": ((WRITING,), False),
    "read_file": ((), False), "list_files": ((), False), "write_file": ((WRITING, CODING, ANALYSIS), True),
    "run_python": ((CODING, ANALYSIS), True), "run_tests": ((CODING,), True),
    "profile_table_file": ((ANALYSIS,), True), "analyze_table": ((ANALYSIS,), False),
    "table_op": ((ANALYSIS,), False), "plot_table": ((ANALYSIS,), True),
}


def register(registry: Any) -> None:
    """Register the text, file, table, analysis, chart, test and sandbox tools (`workspace` stays unbound)."""
    from tools import analysis_ops, charts, code_tests, files, questions, text

    for item in (text.word_count, text.sentence_count, text.reading_level, text.outline,
                 text.diff_texts, files.read_file, files.write_file, files.list_files,
                 run_python_tool, profile_table_file, code_tests.run_tests_tool, questions.analyze_table,
                 analysis_ops.table_op, charts.plot_table):
        chains, side_effects = _DECLARED.get(item.name, ((), True))
        registry.register(item.declared(side_effects=side_effects, chains=chains))
