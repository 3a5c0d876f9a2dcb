"""From a question about a table to a `Plan`, by rules — no model.

    plan_question(df, "top 3 products by revenue in Q3")
    # Plan(op="top", column="revenue", agg="sum", by="product", n=3, conditions=(quarter 3,), ...)

The rules read: the columns the question names (longest names first, plural "s" allowed), values of
text columns it names ("North" → region is North), comparisons ("price over 20"), periods
("in 2024", "Q3", "in March"), and the words that pick an operation (correlation, growth, top/bottom
N, "which X … highest", daily/monthly/quarterly, "by X", sort, how many). When the question asks
for a number about something the table has no column for, or for a period outside the data, the
answer is `CannotTell` with the reason — never a guess. `None` means "not a shape these rules
know": a person, the profile or a capable model must take it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tools.analysis_ops import MONTHS, Condition, Plan, month_column, prepare_frame
from tools.base import tool
from tools.tables import _mentioned_columns

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CannotTell", "analyze_table", "chart_kind", "conditions_in", "mentioned_columns", "plan_question"]

_AGGS = [("mean", r"average|mean|avg"), ("median", r"median"), ("sum", r"total|sum|overall"),
         ("std", r"standard deviation|std|spread"), ("max", r"max(?:imum)?|highest|largest|biggest|most|best|peak|top"),
         ("min", r"min(?:imum)?|lowest|smallest|least|worst|bottom")]
_FREQS = [("D", r"daily|per day|by day|each day|a day"), ("W", r"weekly|per week|by week|each week|a week"),
          ("M", r"monthly|per month|by month|each month|month by month|a month"),
          ("Q", r"quarterly|per quarter|by quarter|each quarter"),
          ("Y", r"yearly|annual(?:ly)?|per year|by year|each year")]
_CHARTS = [("hist", r"histogram|distribution"), ("pie", r"pie"), ("scatter", r"scatter|\bvs\.?\b|versus"),
           ("line", r"line (?:chart|graph|plot)|over time|trend"), ("bar", r"bar|column chart")]
_CHART_ASK = re.compile(r"\b(?:chart|plot|graph|visuali[sz]e|histogram|draw|pie)\b", re.I)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10}
_TOP = re.compile(r"\b(top|bottom|best|worst|highest|lowest|largest|smallest|biggest)\s+(\d+|" +
                  "|".join(_NUMBERS) + r")\b|\b(\d+|" + "|".join(_NUMBERS) +
                  r")\s+(best|worst|highest|lowest|largest|smallest|biggest|top|bottom)\b", re.I)
_LOW_WORDS = {"bottom", "worst", "lowest", "smallest", "least"}
COMPARISON = (r"(?P<op>>=|<=|>|<|==|=|above|over|more than|greater than|higher than|bigger than|below|under|"
            r"less than|lower than|smaller than|at least|at most|no more than|exactly|equal to|equals)")
COMPARISON_OPS = {"above": ">", "over": ">", "more than": ">", "greater than": ">", "higher than": ">", "bigger than": ">",
        "below": "<", "under": "<", "less than": "<", "lower than": "<", "smaller than": "<", "at least": ">=",
        "at most": "<=", "no more than": "<=", "exactly": "==", "equal to": "==", "equals": "==", "=": "=="}
_GROWTH = re.compile(r"\bgrowth|\bgrow(?:s|n|ing)?\b|\bgrew\b|(?:month|quarter|year|week)[- ]over[- ]"
                     r"(?:month|quarter|year|week)|\bmom\b|\bqoq\b|\byoy\b|percent(?:age)? change|pct change|"
                     r"% change|rate of change|changed? over time", re.I)
_CORRELATION = re.compile(r"\bcorrelat|relationship between|related to each other|\bassociat", re.I)
_STOP = {"the", "of", "a", "an", "in", "for", "per", "all", "our", "my", "this", "that", "each", "every", "is", "was",
         "were", "are", "by", "on", "from", "to", "with", "and", "or", "data", "table", "file", "dataset", "value",
         "values", "number", "numbers", "amount", "it", "these", "those", "them"}
_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4}


@dataclass(frozen=True)
class CannotTell:
    reason: str

    @property
    def text(self) -> str:
        return f"I cannot tell from this data: {self.reason}"


def chart_kind(question: str) -> str | None:
    """The chart a question asks for ("bar", "line", "scatter", "hist", "pie", or "auto"); None if none."""
    if not _CHART_ASK.search(question) and not re.search(r"\b(?:scatter|bar chart|line graph)\b", question, re.I):
        return None
    for kind, pattern in _CHARTS:
        if re.search(pattern, question, re.I):
            return kind
    return "auto"


def _agg(q: str) -> tuple[str | None, int]:
    found = [(m.start(), name) for name, pattern in _AGGS for m in re.finditer(rf"\b(?:{pattern})\b", q)]
    return (min(found)[1], min(found)[0]) if found else (None, -1)


def _plain_agg(q: str) -> str | None:
    """The aggregation named besides the ranking word: 'lowest *average* salary' → mean."""
    for name, pattern in _AGGS[:4]:
        if re.search(rf"\b(?:{pattern})\b", q) and name != "std":
            return name
    return None


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word.lower()]


def _is_categorical(series: "pd.Series") -> bool:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return False
    return 0 < series.nunique() <= max(50, len(series) // 2)


def _name_pattern(column: str) -> str:
    return re.escape(column.lower().replace("_", " ").strip()) + "s?"


def conditions_in(frame: "pd.DataFrame", q: str, time_col: str | None, months: str | None,
                numeric: list[str]) -> tuple[list[Condition], CannotTell | None]:
    """Row filters a question states (text-column values, number comparisons, periods), or why not."""
    import pandas as pd

    conditions: list[Condition] = []
    names = {str(c).lower().replace("_", " ") for c in frame.columns}
    for column in frame.columns:
        series = frame[column]
        if str(column) == months or not _is_categorical(series):
            continue
        values = [str(v) for v in series.dropna().unique()
                  if len(str(v).strip()) >= 2 and not str(v).strip().isdigit() and str(v).lower() not in names
                  and str(v).lower() not in _STOP]
        hits = [v for v in values if re.search(rf"(?<![\w-]){re.escape(v.lower())}(?![\w-])", q)]
        if hits:
            conditions.append(Condition(str(column), "in", tuple(hits)))
    for column in frame.columns:  # yes/no columns: "remote" / "remotely" / "not remote"
        if pd.api.types.is_bool_dtype(frame[column]):
            stem = re.escape(str(column).lower().replace("_", " ").rstrip("sd"))
            match = re.search(rf"\b(not |non-?|aren't |isn't |don't |doesn't )?{stem}\w*", q)
            if match:
                conditions.append(Condition(str(column), "==", not match.group(1)))
    for column in numeric:
        pattern = rf"\b{_name_pattern(column)}\s+(?:is\s+|was\s+|are\s+|were\s+|of\s+)?{COMPARISON}\s*\$?(?P<num>-?\d[\d,]*\.?\d*)"
        for match in re.finditer(pattern, q):
            op = COMPARISON_OPS.get(match.group("op"), match.group("op"))
            conditions.append(Condition(column, op, float(match.group("num").replace(",", ""))))
    axis = time_col or months
    if axis is None:
        return conditions, None
    dated = time_col is not None and pd.api.types.is_datetime64_any_dtype(frame[time_col])
    if dated:
        years = sorted(set(int(y) for y in frame[time_col].dt.year.dropna()))
        for match in re.finditer(r"\b(?:in|for|during|of)\s+((?:19|20)\d{2})\b", q):
            year = int(match.group(1))
            if year not in years:
                span = f"{years[0]}" if len(years) == 1 else f"{years[0]}–{years[-1]}"
                return conditions, CannotTell(f"the data covers {span}, not {year}.")
            conditions.append(Condition(time_col, "year", year))
    quarter = re.search(r"\bq([1-4])\b|\b(first|second|third|fourth) quarter\b", q)
    if quarter:
        number = int(quarter.group(1)) if quarter.group(1) else _QUARTER_WORDS[quarter.group(2)]
        present = set(frame[time_col].dt.quarter.dropna().astype(int)) if dated else \
            {(m - 1) // 3 + 1 for m in frame[axis].map(_month_of) if m}
        if number not in present:
            return conditions, CannotTell(f"there are no rows in Q{number}; the data has "
                                          f"{', '.join(f'Q{p}' for p in sorted(present))}.")
        conditions.append(Condition(axis, "quarter", number))
    month = re.search(r"\b(?:in|for|during)\s+(" + "|".join(MONTHS) + r")\b", q)
    if month:
        conditions.append(Condition(axis, "month", MONTHS.index(month.group(1)) + 1))
    return conditions, None


def _month_of(value: object) -> int | None:
    from tools.analysis_ops import month_number

    return month_number(str(value))


def plan_question(df: "pd.DataFrame", question: str) -> Plan | CannotTell | None:
    """The plan answering `question` over `df`, a CannotTell with its reason, or None."""
    import pandas as pd

    frame, time_col = prepare_frame(df)
    months = month_column(frame) if time_col is None else None
    axis = time_col or months
    question = _without_pasted_rows(question, frame.shape[1])
    q = " ".join(question.lower().split())
    mentioned = sorted(mentioned_columns(frame, question).items(), key=lambda kv: kv[1])
    numeric = [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    measures = [c for c, _ in mentioned if c in numeric]
    groups = [c for c, _ in mentioned if c not in numeric and c != time_col and _is_categorical(frame[c])]
    measure = measures[0] if measures else (numeric[0] if len(numeric) == 1 else None)
    chart = chart_kind(q)
    agg, agg_at = _agg(q)
    conditions, cannot = conditions_in(frame, q, time_col, months, numeric)
    if cannot:
        return cannot
    conds = tuple(conditions)
    base = dict(conditions=conds, chart=chart, time=axis)

    if agg and not measures and agg in ("mean", "median", "sum", "std"):
        unknown = _unknown_measure(frame, q, agg_at)
        if unknown is not None:
            return unknown
    if re.match(r"\s*why\b", q):
        return CannotTell("the table shows what happened, not why; causes need other information.")
    if re.search(r"\bmissing|\bnull|\bempty|\bblank", q) and re.search(r"\bhow many|\bcount|\bnumber of|\bwhich", q):
        return Plan("missing", column=measures[0] if measures else next((c for c, _ in mentioned), None), **base)
    if _CORRELATION.search(q) or (chart == "scatter" and len(measures) >= 2):
        first = measures[0] if measures else None
        return Plan("correlation", column=first, other=measures[1] if len(measures) > 1 else None, **base)
    if _GROWTH.search(q) and measure:
        freq = next((f for f, p in _FREQS if re.search(rf"\b(?:{p})\b", q)), None)
        if re.search(r"\bquarter[- ]over[- ]quarter|\bqoq\b", q):
            freq = "Q"
        elif re.search(r"\byear[- ]over[- ]year|\byoy\b", q):
            freq = "Y"
        growth_conds = tuple(c for c in conds if c.op not in ("quarter", "month"))  # growth needs the periods around
        return Plan("growth", column=measure, agg=agg if agg in ("mean", "median") else "sum", freq=freq,
                    time=axis, chart=chart, conditions=growth_conds)
    top = _TOP.search(q)
    which = re.search(r"\b(?:which|what)\s+(\w+(?:\s\w+)?)", q)
    extreme = re.search(r"\b(?:highest|most|largest|biggest|best|top|lowest|least|smallest|worst|bottom|max|min)", q)
    by = _group_column(q, groups)
    if top or (which and extreme and groups):
        n = _number(top.group(2) or top.group(3)) if top else 1
        word = (top.group(1) or top.group(4)).lower() if top else extreme.group(0)
        named = [g for g in groups if which and re.search(rf"\b{_name_pattern(g)}\b", which.group(1))]
        target = by or (named[0] if named else groups[0] if groups else None)
        if target is not None and frame[target].is_unique:
            if not top:
                return None  # one row per label: the plain max/min answer names the row
            target = None
        how = _plain_agg(q) or ("sum" if measure else "count")
        if measure is None and target is None:
            return None
        return Plan("top", column=measure, agg=how if measure else "count", by=target, n=n,
                    ascending=word in _LOW_WORDS or word == "min", **base)
    freq = next((f for f, p in _FREQS if re.search(rf"\b(?:{p})\b", q)), None)
    if axis and measure and (freq or re.search(r"\bover time\b", q)) and not by:
        return Plan("resample", column=measure, agg=agg if agg in ("mean", "median", "max", "min") else "sum",
                    freq=freq or "M", **base)
    if by:
        how = agg if agg in ("sum", "mean", "median", "max", "min", "std") else ("sum" if measure else "count")
        if measure is None:
            how = "count"
        return Plan("group", column=measure, agg=how, by=by, **base)
    if re.search(r"\b(?:sort|order|rank)(?:ed)?\b", q) and measure:
        return Plan("sort", column=measure, ascending=bool(re.search(r"ascending|lowest first|smallest first", q)), **base)
    if conds and re.search(r"\bhow many\b|\bnumber of\b|\bcount\b", q) and not (agg and agg not in ("sum",) and measure):
        return Plan("count", **base)
    if conds and agg and measure:
        return Plan("aggregate", column=measure, agg=agg, **base)
    if conds and measure and not agg and re.search(r"\bwhat (?:was|is|were|are)\b", q):
        return Plan("aggregate", column=measure, agg="sum", **base)  # "what was the revenue in March"
    if chart and measure:
        other = measures[1] if len(measures) > 1 else None
        return Plan("plot", column=measure, other=other, **base)
    if agg and not measures:
        return _unknown_measure(frame, q, agg_at)
    return None


def _without_pasted_rows(question: str, width: int) -> str:
    """The question without the table pasted into it (CSV or Markdown rows): its values are not filters."""
    kept = [line for line in question.splitlines()
            if not (width > 1 and line.count(",") == width - 1) and not line.strip().startswith("|")]
    return "\n".join(kept)


def mentioned_columns(frame: "pd.DataFrame", question: str) -> dict[str, int]:
    """Columns a question names and where: whole names ('unit_price'), else a distinctive first part
    of a name ('rain' for rain_mm, 'temp' for temp_c) that no other column shares."""
    found = _mentioned_columns(frame, question)
    text = question.lower()
    heads: dict[str, list[str]] = {}
    for column in map(str, frame.columns):
        head = re.split(r"[_\s]+", column.lower().strip())[0]
        if len(head) >= 3 and head != column.lower():
            heads.setdefault(head, []).append(column)
    for head, columns in heads.items():
        match = re.search(rf"\b{re.escape(head)}s?\b", text)
        if match and len(columns) == 1 and columns[0] not in found:
            found[columns[0]] = match.start()
    return found


def _group_column(q: str, groups: list[str]) -> str | None:
    for column in groups:
        if re.search(rf"\b(?:by|per|for each|each|across|grouped by|broken down by|in each|for every)\s+"
                     rf"(?:the\s+|each\s+)?{_name_pattern(column)}\b", q):
            return column
    return None


def _unknown_measure(frame: "pd.DataFrame", q: str, at: int) -> CannotTell | None:
    """'average profit' over a table without a profit column: say so instead of guessing."""
    words = [w for w in re.findall(r"[a-z][a-z_]+", q[at:])[1:4] if w not in _STOP]
    if not words:
        return None
    word = words[0]
    columns = [str(c) for c in frame.columns]
    if any(word.rstrip("s") in c.lower() or c.lower().rstrip("s") in word for c in columns):
        return None
    return CannotTell(f"the table has no column for {word!r}; its columns are {', '.join(columns)}.")


@tool(name="analyze_table", injected=("workspace",))
def analyze_table(path: str, question: str, workspace: str | Path) -> str:
    """Answer a question about a table file by rules and pandas (group-bys, top-n, growth, filters…).

    Returns the finding with its numbers, "I cannot tell from this data: …" with the reason, or a
    note that the question is not of a shape the rules know.

    Args:
        path: the table file, relative to the workspace.
        question: the question, e.g. "total revenue by region in Q3".
    """
    from tools.analysis_ops import execute
    from tools.files import resolve_in_workspace
    from tools.tables import answer_simple_question, load_table

    source = resolve_in_workspace(path, workspace)
    frame = load_table(source)
    plan = plan_question(frame, question)
    if isinstance(plan, CannotTell):
        return plan.text
    if plan is None:
        return answer_simple_question(frame, question, source.name) or (
            "The rules cannot answer this question; read the profile (profile_table_file) instead.")
    return execute(frame, plan, source.name).text
