"""Analysis: questions about data. The numbers come from pandas, the words from the model.

The chain finds the tables a request is about — a file it names (in the session workspace or the
current directory), a CSV pasted into the request, or a table an earlier turn produced — profiles
them deterministically and shows that profile before the model's reading of it. A tiny model can
then only get the interpretation wrong, never the figures. Deeper tool use arrives with the tool
chains; this is the honest floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generator

from assistant.chains.base import ChainResult, ChainRun, NewArtifact, PromptChain, short_title, stream_model
from assistant.events import Event, Token

SYSTEM = (
    "You are a careful data analyst. Answer the user's question using the table profile given as "
    "data, quoting its exact numbers. If the profile does not contain what is needed, say plainly that "
    "you cannot tell from this data. Be brief."
)
NO_DATA_NOTE = (
    "No table was found for this request: name a CSV/TSV/JSON/Excel/Parquet file in the workspace "
    "or current directory, or paste the CSV into the message."
)


@dataclass
class AnalysisChain(PromptChain):
    def _profiles(self, run: ChainRun) -> list[str]:
        from tools.tables import TableError, inline_csv, load_table, mentioned_paths, profile_table

        profiles: list[str] = []
        for name in mentioned_paths(run.request):
            for base in (run.workspace, run.cwd):
                path = (base / name).expanduser() if not Path(name).is_absolute() else Path(name)
                if path.is_file():
                    try:
                        profiles.append(profile_table(load_table(path), path.name).text)
                    except TableError as exc:
                        profiles.append(f"Table {path.name}: could not be read ({exc}).")
                    break
            else:
                profiles.append(f"Table {name}: not found in the workspace ({run.workspace}) or {run.cwd}.")
        pasted = inline_csv(run.request)
        if pasted is not None:
            profiles.append(profile_table(pasted, "pasted into the request").text)
        if not profiles:
            table = run.session.latest_artifact(kind="table")
            if table and table.path and Path(table.path).is_file():
                try:
                    profiles.append(profile_table(load_table(table.path), table.title).text)
                except TableError as exc:
                    profiles.append(f"Table {table.title}: could not be read ({exc}).")
        return profiles

    def extra_context(self, run: ChainRun) -> list[str]:
        run.notes["profiles"] = profiles = self._profiles(run)
        return ["<data kind=table-profile>\n" + p + "\n</data>" for p in profiles]

    def run(self, run: ChainRun, messages) -> Generator[Event, None, ChainResult]:
        profiles: list[str] = run.notes.get("profiles") or self._profiles(run)
        header = ("\n\n".join(profiles) if profiles else NO_DATA_NOTE) + "\n\n"
        yield Token(header)
        text, tokens = yield from stream_model(run.model, messages)
        full = header + text.strip()
        artifact = NewArtifact(kind="analysis", title=short_title(run.request), content=full)
        return ChainResult(text=full, artifacts=(artifact,), tokens=tokens)


def analysis_chain() -> AnalysisChain:
    return AnalysisChain(
        name="analysis",
        description="questions about tables and data: statistics, trends, charts",
        prefix="/analyze",
        system_prompt=SYSTEM,
    )
