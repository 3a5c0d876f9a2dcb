"""Loading and profiling tables deterministically, so numbers in answers come from pandas, not
from a model's guess. pandas is imported on first use: `import tools` stays cheap."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".xlsx", ".xls", ".parquet")
MAX_TABLE_BYTES = 200 * 1024 * 1024
_PATH_RE = re.compile(r"""(?:(?<=\s)|^|(?<=["'`(]))([\w./~\\-]+\.(?:csv|tsv|jsonl|ndjson|json|xlsx|xls|parquet))\b""", re.I)


class TableError(ValueError):
    """A table could not be found, read or parsed; the message says which and why."""


@dataclass(frozen=True)
class TableProfile:
    name: str
    rows: int
    columns: int
    text: str  # the whole profile rendered for a prompt or a person


def mentioned_paths(text: str) -> list[str]:
    """File names ending in a table suffix that a request mentions, in order, without repeats."""
    seen: list[str] = []
    for match in _PATH_RE.finditer(text):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return seen


def inline_csv(text: str, min_rows: int = 2) -> "pd.DataFrame | None":
    """A CSV block pasted into a request (header + rows with the same comma count), if there is one."""
    import pandas as pd

    lines = [line.strip() for line in text.splitlines()]
    best: list[str] = []
    run: list[str] = []
    for line in lines + [""]:
        commas = line.count(",")
        if commas and (not run or commas == run[0].count(",")):
            run.append(line)
            continue
        if len(run) > len(best):
            best = run
        run = [line] if commas else []
    if len(best) < min_rows + 1:
        return None
    try:
        return pd.read_csv(io.StringIO("\n".join(best)), skipinitialspace=True)
    except (ValueError, pd.errors.ParserError):
        return None


def load_table(path: str | Path) -> "pd.DataFrame":
    import pandas as pd

    path = Path(path).expanduser()
    if not path.is_file():
        raise TableError(f"no table file at {path}")
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise TableError(f"{path.name} is larger than {MAX_TABLE_BYTES // 2**20} MB; sample it first")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, sep=None, engine="python")
        if suffix == ".tsv":
            return pd.read_csv(path, sep="\t")
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True)
        if suffix == ".json":
            return pd.read_json(path)
        if suffix in (".xlsx", ".xls"):
            return pd.read_excel(path)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except ImportError as exc:
        raise TableError(f"reading {suffix} files needs an optional library: {exc}") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise TableError(f"cannot parse {path.name}: {exc}") from None
    raise TableError(f"{path.name}: unsupported table type {suffix}")


def profile_table(df: "pd.DataFrame", name: str = "table", top: int = 3) -> TableProfile:
    """Shape, types, missing values, summary statistics and top categories, as compact text."""
    import pandas as pd

    lines = [f"Table {name}: {len(df)} rows × {df.shape[1]} columns."]
    for column in df.columns:
        series = df[column]
        missing = int(series.isna().sum())
        note = f", {missing} missing" if missing else ""
        if pd.api.types.is_bool_dtype(series):
            counts = series.value_counts()
            lines.append(f"- {column} (bool{note}): " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
        elif pd.api.types.is_numeric_dtype(series):
            s = series.dropna()
            if s.empty:
                lines.append(f"- {column} (numeric{note}): no values")
                continue
            lines.append(
                f"- {column} (numeric{note}): mean {_fmt(s.mean())}, median {_fmt(s.median())}, "
                f"min {_fmt(s.min())}, max {_fmt(s.max())}, sum {_fmt(s.sum())}"
            )
        elif pd.api.types.is_datetime64_any_dtype(series) or _dates(series) is not None:
            stamps = series if pd.api.types.is_datetime64_any_dtype(series) else _dates(series)
            first, last = stamps.min(), stamps.max()
            lines.append(f"- {column} (dates{note}): {first:%Y-%m-%d} to {last:%Y-%m-%d}, {stamps.nunique()} distinct")
        else:
            counts = series.astype(str).value_counts()
            head = ", ".join(f"{k} ({v})" for k, v in counts.head(top).items())
            lines.append(f"- {column} (text, {series.nunique()} distinct{note}): top {head}")
    numeric = df.select_dtypes("number")
    if numeric.shape[1] >= 2 and len(df) >= 3:
        corr = numeric.corr().abs().where(lambda m: m < 0.9999).stack().dropna()
        if not corr.empty:
            (a, b), value = corr.idxmax(), corr.max()
            lines.append(f"Strongest correlation: {a} ~ {b} ({_fmt(numeric[a].corr(numeric[b]))}).")
    return TableProfile(name=name, rows=len(df), columns=df.shape[1], text="\n".join(lines))


def _dates(series: "pd.Series") -> "pd.Series | None":
    """The column parsed as dates when (nearly) all of it is date-like text, else None."""
    from tools.analysis_ops import prepare_frame

    frame, time_col = prepare_frame(series.to_frame("value"))
    return frame["value"] if time_col == "value" else None


def workspace_tables(workspace: str | Path) -> list[Path]:
    """Table files at the top of a workspace, newest first (artifacts and hidden files left out)."""
    root = Path(workspace)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES
             and not p.name.startswith(".")]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


_NUMBER_LIST = re.compile(r"(?::|\[|=|\bnumbers\b|\bvalues\b)\s*((?:-?\d+(?:\.\d+)?\s*,\s*){2,}-?\d+(?:\.\d+)?)")


def inline_numbers(text: str) -> list[float] | None:
    """A list of numbers given in a request ("these numbers: 4, 8, 15, 16"), if there is one."""
    match = _NUMBER_LIST.search(text)
    if not match:
        return None
    return [float(v) for v in re.split(r"\s*,\s*", match.group(1).strip())]


def _fmt(value: float) -> str:
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) < 1000:
        return f"{value:.4g}"
    return f"{value:.1f}" if abs(value) < 1e6 else f"{value:,.0f}"


_STATS = [
    ("mean", re.compile(r"\b(?:average|mean|avg)\b", re.I), "average"),
    ("median", re.compile(r"\bmedian\b", re.I), "median"),
    ("max", re.compile(r"\b(?:max(?:imum)?|highest|largest|biggest|most|oldest|top)\b", re.I), "maximum"),
    ("min", re.compile(r"\b(?:min(?:imum)?|lowest|smallest|least|youngest)\b", re.I), "minimum"),
    ("sum", re.compile(r"\b(?:total|sum)\b", re.I), "total"),
    ("std", re.compile(r"\b(?:std|standard deviation|spread)\b", re.I), "standard deviation"),
]
_COUNT_RE = re.compile(r"\bhow many (?:rows|records|entries|lines)\b|\bnumber of (?:rows|records|entries)\b", re.I)


def _mentioned_columns(df: "pd.DataFrame", question: str) -> dict[str, int]:
    """Columns named in a question and where, longest names first so 'unit_price' wins over 'price'."""
    text = question.lower().replace("_", " ")
    found: dict[str, int] = {}
    for column in sorted(map(str, df.columns), key=len, reverse=True):
        name = column.lower().replace("_", " ").strip()
        match = re.search(rf"\b{re.escape(name)}s?\b", text) if name else None
        if match and not any(name in f.lower() for f in found):
            found[column] = match.start()
    return found


def answer_simple_question(df: "pd.DataFrame", question: str, name: str = "the table") -> str | None:
    """A direct answer to 'average/median/max/min/total/std of <column>' or 'how many rows', from pandas.

    None when the question is not of that shape: then a person or a model must read the profile.
    For max/min, the row's label (its first text column) is named too: 'highest revenue: Mar (150)'.
    """
    import pandas as pd

    if _COUNT_RE.search(question):
        return f"{name} has {len(df)} rows."
    columns = {c: at for c, at in _mentioned_columns(df, question).items() if pd.api.types.is_numeric_dtype(df[c])}
    if not columns:
        return None
    answers = []
    for op, pattern, label in _STATS:
        for match in pattern.finditer(question):
            # each statistic goes with the column named nearest after it ("total revenue and mean price")
            column = min(columns, key=lambda c: (columns[c] < match.start(), abs(columns[c] - match.start())))
            series = df[column].dropna()
            if series.empty:
                answers.append(f"{column} has no values, so its {label} cannot be told from this data.")
                continue
            value = getattr(series, op)()
            line = f"The {label} {column} in {name} is {_fmt(value)}"
            labels = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
            if op in ("max", "min") and labels:
                row = df.loc[series.idxmax() if op == "max" else series.idxmin()]
                line += f" ({labels[0]}: {row[labels[0]]})"
            answers.append(line + f", over {len(series)} values.")
    return "\n".join(answers) or None
