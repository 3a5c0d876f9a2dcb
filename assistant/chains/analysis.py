"""Analysis: questions about data. The numbers come from pandas, the words from the model.

The chain finds the tables a request is about — a file it names (in the session workspace or the
current directory), a CSV pasted into the request, or a table an earlier turn produced — and
profiles them deterministically. A question of a simple shape ("average age", "highest revenue",
"how many rows") is answered straight from pandas, because a tiny model asked to copy a number
from its prompt gets it wrong surprisingly often; anything else is the profile plus the model's
reading of it. Deeper tool use (group-bys, charts, generated pandas code) builds on this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generator

from assistant.chains.base import ChainResult, ChainRun, NewArtifact, PromptChain, short_title, stream_model
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


@dataclass(frozen=True)
class FoundTable:
    name: str
    frame: "pd.DataFrame | None"
    problem: str = ""


def find_tables(run: ChainRun) -> list[FoundTable]:
    """The tables a request is about, in the order it names them; unreadable ones say why."""
    from tools.tables import TableError, inline_csv, load_table, mentioned_paths

    def read(path: Path, name: str) -> FoundTable:
        try:
            return FoundTable(name, load_table(path))
        except TableError as exc:
            return FoundTable(name, None, f"could not be read ({exc})")

    found: list[FoundTable] = []
    for name in mentioned_paths(run.request):
        candidates = [Path(name).expanduser()] if Path(name).expanduser().is_absolute() else [run.workspace / name, run.cwd / name]
        path = next((p for p in candidates if p.is_file()), None)
        found.append(read(path, Path(name).name) if path else FoundTable(
            name, None, f"not found in the workspace ({run.workspace}) or {run.cwd}"))
    pasted = inline_csv(run.request)
    if pasted is not None:
        found.append(FoundTable("the pasted table", pasted))
    if not found:
        table = run.session.latest_artifact(kind="table")
        if table and table.path and Path(table.path).is_file():
            found.append(read(Path(table.path), table.title))
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
        from tools.tables import answer_simple_question

        profiles = self._profiles(run)
        readable = [t for t in run.notes["tables"] if t.frame is not None]
        direct = answer_simple_question(readable[0].frame, run.request, readable[0].name) if len(readable) == 1 else None
        if direct:
            text = direct + "\n\n" + "\n\n".join(profiles)
            yield Token(text)
            tokens = 0
        else:
            header = ("\n\n".join(profiles) if profiles else NO_DATA_NOTE) + "\n\n"
            yield Token(header)
            said, tokens = yield from stream_model(run.model, messages)
            text = header + said.strip()
        artifact = NewArtifact(kind="analysis", title=short_title(run.request), content=text)
        return ChainResult(text=text, artifacts=(artifact,), tokens=tokens)


def analysis_chain() -> AnalysisChain:
    return AnalysisChain(
        name="analysis",
        description="questions about tables and data: statistics, trends, charts",
        prefix="/analyze",
        system_prompt=SYSTEM,
    )
