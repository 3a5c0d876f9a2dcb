"""Deterministic operations on a table — filter, group-by aggregate, sort, top-n, correlation, time
resampling, period-over-period growth — each returning a plain-language finding and its table.

A `Plan` says which operation on which columns; `tools.questions.plan_question` makes one from a
question by rules, and `execute` runs it with pandas. Numbers in findings come only from here.
pandas is imported on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.base import tool
from tools.frames import (
    MONTHS,
    fmt,
    month_column,
    month_number,
    period_label,
    prepare_frame,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AGG_LABELS", "Condition", "Finding", "Plan", "apply_conditions", "describe_conditions", "execute",
           "table_op", "time_series"]

AGG_LABELS = {"sum": "total", "mean": "average", "median": "median", "max": "maximum", "min": "minimum",
              "count": "number of", "std": "standard deviation"}
FREQ_NAMES = {"D": "Daily", "W": "Weekly", "M": "Monthly", "Q": "Quarterly", "Y": "Yearly"}
_PANDAS_FREQ = {"D": "D", "W": "W", "M": "MS", "Q": "QS", "Y": "YS"}


@dataclass(frozen=True)
class Condition:
    column: str
    op: str  # "in" | ">" | "<" | ">=" | "<=" | "==" | "year" | "quarter" | "month"
    value: Any

    def describe(self) -> str:
        if self.op == "in":
            values = list(self.value)
            return f"{self.column} is {values[0]}" if len(values) == 1 else f"{self.column} in {', '.join(map(str, values))}"
        if self.op == "quarter":
            return f"in Q{self.value}"
        if self.op == "year":
            return f"in {self.value}"
        if self.op == "month":
            return f"in {MONTHS[self.value - 1].title()}"
        if isinstance(self.value, bool):
            return f"{self.column} is {'true' if self.value else 'false'}"
        return f"{self.column} {self.op} {fmt(self.value)}"


@dataclass(frozen=True)
class Plan:
    op: str  # "aggregate" | "count" | "missing" | "group" | "top" | "sort" | "correlation" | "resample" | "growth" | "plot"
    column: str | None = None
    agg: str = "sum"
    by: str | None = None
    n: int | None = None
    ascending: bool = False
    conditions: tuple[Condition, ...] = ()
    other: str | None = None
    freq: str | None = None
    time: str | None = None
    chart: str | None = None


@dataclass
class Finding:
    text: str
    plan: Plan
    table: "pd.DataFrame | None" = None
    x: str | None = None  # the table's label column, for a chart
    y: str | None = None  # the table's value column
    values: dict[str, float] = field(default_factory=dict)


def describe_conditions(conditions: tuple[Condition, ...]) -> str:
    """' in Q3 where region is North' — periods first, then the other filters."""
    periods = [c.describe() for c in conditions if c.op in ("year", "quarter", "month")]
    others = [c.describe() for c in conditions if c.op not in ("year", "quarter", "month")]
    text = "".join(" " + p for p in periods)
    return text + (" where " + " and ".join(others) if others else "")


def apply_conditions(df: "pd.DataFrame", conditions: tuple[Condition, ...]) -> "pd.DataFrame":
    out = df
    for c in conditions:
        col = out[c.column]
        if c.op == "in":
            mask = col.astype(str).str.lower().isin([str(v).lower() for v in c.value])
        elif c.op in ("year", "quarter", "month") and hasattr(col, "dt"):
            part = {"year": col.dt.year, "quarter": col.dt.quarter, "month": col.dt.month}[c.op]
            mask = part == c.value
        elif c.op in ("quarter", "month"):  # a month-name column
            numbers = col.map(month_number)
            mask = ((numbers - 1) // 3 + 1 == c.value) if c.op == "quarter" else numbers == c.value
        else:
            mask = {">": col > c.value, "<": col < c.value, ">=": col >= c.value, "<=": col <= c.value,
                    "==": col == c.value}[c.op]
        out = out[mask]
    return out


# -- running a plan -----------------------------------------------------------------------------------

def execute(df: "pd.DataFrame", plan: Plan, name: str = "the table") -> Finding:
    """Run `plan` on `df`; the finding's text states every number it used."""
    frame, _ = prepare_frame(df)
    sub = apply_conditions(frame, plan.conditions)
    where = describe_conditions(plan.conditions)
    if plan.conditions and sub.empty:
        return Finding(f"No rows of {name} match ({where.strip()}), so this cannot be told from this data.", plan)
    handler = _HANDLERS[plan.op]
    return handler(sub, plan, name, where)


def _aggregate(sub: "pd.DataFrame", plan: Plan, name: str, where: str) -> Finding:
    series = sub[plan.column].dropna()
    if series.empty:
        return Finding(f"{plan.column} has no values{where}, so this cannot be told from this data.", plan)
    value = float(getattr(series, plan.agg)())
    text = f"The {AGG_LABELS[plan.agg]} {plan.column}{where} is {fmt(value)} (over {len(series)} rows of {name})."
    return Finding(text, plan, values={f"{plan.agg}_{plan.column}": value})


def _count(sub: "pd.DataFrame", plan: Plan, name: str, where: str) -> Finding:
    return Finding(f"{len(sub)} rows of {name} match ({where.strip()}).", plan, values={"count": len(sub)})


def _missing(sub: "pd.DataFrame", plan: Plan, name: str, where: str) -> Finding:
    if plan.column:
        k = int(sub[plan.column].isna().sum())
        return Finding(f"{k} of {len(sub)} rows of {name} have a missing {plan.column}.", plan, values={"missing": k})
    counts = sub.isna().sum()
    counts = counts[counts > 0]
    if counts.empty:
        return Finding(f"No values are missing in {name} ({len(sub)} rows).", plan, values={"missing": 0})
    parts = ", ".join(f"{c} {int(k)}" for c, k in counts.items())
    return Finding(f"Missing values in {name}: {parts} (of {len(sub)} rows).", plan, values={"missing": int(counts.sum())})


def _grouped(sub: "pd.DataFrame", plan: Plan) -> "pd.Series":
    if plan.agg == "count" or plan.column is None:
        return sub.groupby(plan.by, sort=False).size().sort_values(ascending=plan.ascending)
    return sub.groupby(plan.by, sort=False)[plan.column].agg(plan.agg).sort_values(ascending=plan.ascending)


def _measure_label(plan: Plan) -> str:
    return "rows" if plan.agg == "count" or plan.column is None else f"{AGG_LABELS[plan.agg]} {plan.column}"


def _group(sub: "pd.DataFrame", plan: Plan, name: str, where: str) -> Finding:
    grouped = _grouped(sub, plan)
    total = float(grouped.sum())
    show_share = plan.agg in ("sum", "count") and total > 0 and (grouped >= 0).all()
    parts = [f"{k} {fmt(v)}" + (f" ({v / total:.0%})" if show_share else "") for k, v in grouped.head(12).items()]
    more = f" and {len(grouped) - 12} more" if len(grouped) > 12 else ""
    text = f"{_measure_label(plan).capitalize()} by {plan.by}{where}: " + "; ".join(parts) + more + "."
    if len(grouped) > 1:
        top, low = grouped.idxmax(), grouped.idxmin()
        text += f" Highest: {top} ({fmt(grouped.max())}); lowest: {low} ({fmt(grouped.min())})."
    table = grouped.rename(plan.column or "rows").reset_index()
    return Finding(text, plan, table, x=str(plan.by), y=str(table.columns[1]),
                   values={str(k): float(v) for k, v in grouped.items()})


def _label_column(sub: "pd.DataFrame", exclude: str | None) -> str | None:
    import pandas as pd

    return next((str(c) for c in sub.columns if c != exclude and not pd.api.types.is_numeric_dtype(sub[c])), None)


def _top(sub: "pd.DataFrame", plan: Plan, name: str, where: str) -> Finding:
    n = plan.n or 1
    word = "bottom" if plan.ascending else "top"
    extreme = "lowest" if plan.ascending else "highest"
    if plan.by:
        ranked = _grouped(sub, plan)
        label_col, measure = str(plan.by), _measure_label(plan)
    else:
        label_col = _label_column(sub, plan.column)
        ordered = sub.sort_values(plan.column, ascending=plan.ascending).dropna(subset=[plan.column])
        ranked = ordered.set_index(label_col)[plan.column] if label_col else ordered[plan.column]
        measure = plan.column
    head = ranked.head(n)
    if head.empty:
        return Finding(f"There are no values to rank{where}.", plan)
    if n == 1:
        key, value = next(iter(head.items()))
        text = f"{key} had the {extreme} {measure}{where}: {fmt(value)}."
        if len(ranked) > 1:
            nxt_key, nxt_value = list(ranked.items())[1]
            text += f" Next: {nxt_key} ({fmt(nxt_value)})."
    else:
        items = "; ".join(f"{k} ({fmt(v)})" for k, v in head.items())
        text = f"The {word} {len(head)} by {measure}{where}: {items}."
    table = head.rename(plan.column or "rows").reset_index()
    return Finding(text, plan, table, x=str(table.columns[0]), y=str(table.columns[1]),
                   values={str(k): float(v) for k, v in head.items()})


def _sort(sub: "pd.DataFrame", plan: Plan, name: str, where: str) -> Finding:
    ordered = sub.sort_values(plan.column, ascending=plan.ascending)
    label = _label_column(sub, plan.column)
    shown = ordered.head(10)
    items = "; ".join(f"{row[label]} ({fmt(row[plan.column])})" if label else fmt(row[plan.column])
                      for _, row in shown.iterrows())
    direction = "ascending" if plan.ascending else "descending"
    text = f"{name} sorted by {plan.column} ({direction}){where}: {items}" + (" …" if len(ordered) > 10 else "") + "."
    return Finding(text, plan, ordered, x=label, y=plan.column)


def _strength(r: float) -> str:
    size = abs(r)
    word = "very strong" if size >= 0.8 else "strong" if size >= 0.6 else "moderate" if size >= 0.4 else \
        "weak" if size >= 0.2 else "no clear"
    return f"{word} {'positive' if r > 0 else 'negative'}" if word != "no clear" else "no clear linear"


def _correlation(sub: "pd.DataFrame", plan: Plan, name: str, where: str) -> Finding:
    numeric = sub.select_dtypes("number")
    if plan.column and plan.other:
        pair = sub[[plan.column, plan.other]].dropna()
        if len(pair) < 3:
            return Finding(f"Too few rows with both {plan.column} and {plan.other} to tell a correlation.", plan)
        r = float(pair[plan.column].corr(pair[plan.other]))
        text = (f"Correlation between {plan.column} and {plan.other}{where}: r = {r:.2f} ({_strength(r)} "
                f"relationship) over {len(pair)} rows.")
        return Finding(text, plan, pair, x=plan.column, y=plan.other, values={"r": r})
    if numeric.shape[1] < 2:
        return Finding(f"{name} has fewer than two numeric columns, so there is no correlation to compute.", plan)
    matrix = numeric.corr()
    pairs = [(a, b, float(matrix.loc[a, b])) for i, a in enumerate(matrix.columns) for b in matrix.columns[i + 1:]
             if plan.column in (None, a, b)]
    pairs = sorted((p for p in pairs if p[2] == p[2]), key=lambda p: abs(p[2]), reverse=True)
    items = "; ".join(f"{a} ~ {b}: r = {r:.2f} ({_strength(r)})" for a, b, r in pairs[:5])
    best = pairs[0] if pairs else None
    table = sub[[best[0], best[1]]].dropna() if best else None
    return Finding(f"Correlations in {name}{where}: {items}.", plan, table, x=best[0] if best else None,
                   y=best[1] if best else None, values={f"{a}~{b}": r for a, b, r in pairs})


def time_series(sub: "pd.DataFrame", plan: Plan) -> tuple["pd.Series", str]:
    """The measure over time, one value per period (resampled when the time column is a date)."""
    import pandas as pd

    agg = plan.agg if plan.agg in ("sum", "mean", "median", "max", "min", "count") else "sum"
    if plan.time and pd.api.types.is_datetime64_any_dtype(sub[plan.time]):
        freq = plan.freq or "M"
        series = sub.set_index(plan.time)[plan.column].resample(_PANDAS_FREQ[freq]).agg(agg)
        series.index = [period_label(s, freq) for s in series.index]
        return series, freq
    if plan.time:  # month names: order by month
        ordered = sub.assign(_m=sub[plan.time].map(month_number)).groupby("_m", sort=True)
        series = ordered[plan.column].agg(agg)
        series.index = [MONTHS[m - 1][:3].title() for m in series.index]
        return series, "M"
    return sub[plan.column].reset_index(drop=True), "row"


def _resample(sub: "pd.DataFrame", plan: Plan, name: str, where: str) -> Finding:
    series, freq = time_series(sub, plan)
    label = f"{FREQ_NAMES.get(freq, 'Per-row')} {AGG_LABELS.get(plan.agg, plan.agg)} {plan.column}"
    parts = "; ".join(f"{k} {fmt(v)}" for k, v in series.head(24).items())
    text = f"{label}{where}: {parts}" + (" …" if len(series) > 24 else "") + "."
    if len(series) > 1:
        text += f" Highest: {series.idxmax()} ({fmt(series.max())}); lowest: {series.idxmin()} ({fmt(series.min())})."
    table = series.rename(plan.column).rename_axis("period").reset_index()
    return Finding(text, plan, table, x="period", y=plan.column, values={str(k): float(v) for k, v in series.items()})


def _growth(sub: "pd.DataFrame", plan: Plan, name: str, where: str) -> Finding:
    series, freq = time_series(sub, plan)
    if len(series) < 2:
        return Finding(f"There is only one period of {plan.column}{where}, so growth cannot be told from this data.", plan)
    growth = series.pct_change() * 100
    step = {"M": "Month-over-month", "Q": "Quarter-over-quarter", "Y": "Year-over-year", "W": "Week-over-week",
            "D": "Day-over-day"}.get(freq, "Row-over-row")
    parts = "; ".join(f"{k} {v:+.1f}%" for k, v in growth.iloc[1:].items() if v == v)
    valid = growth.iloc[1:].dropna()
    text = f"{step} growth of {plan.column}{where}: {parts}."
    if not valid.empty:
        text += (f" Average {valid.mean():+.1f}% per period; biggest rise {valid.idxmax()} ({valid.max():+.1f}%), "
                 f"weakest {valid.idxmin()} ({valid.min():+.1f}%).")
    if series.iloc[0]:
        overall = (series.iloc[-1] / series.iloc[0] - 1) * 100
        text += f" From {fmt(series.iloc[0])} to {fmt(series.iloc[-1])} overall ({overall:+.1f}%)."
    if freq == "M" and plan.time:
        text += " " + _quarters(sub, plan)
    table = series.rename(plan.column).rename_axis("period").reset_index()
    table["growth_pct"] = growth.round(2).to_numpy()
    return Finding(text.strip(), plan, table, x="period", y=plan.column,
                   values={f"growth {k}": float(v) for k, v in growth.items() if v == v})


def _quarters(sub: "pd.DataFrame", plan: Plan) -> str:
    """By-quarter totals and each quarter's change on the one before: 'Q3 2024 was +12.0% on Q2 2024'."""
    quarterly, _ = time_series(sub, Plan(op="resample", column=plan.column, agg=plan.agg, time=plan.time, freq="Q"))
    if len(quarterly) < 2:
        return ""
    parts = "; ".join(f"{k} {fmt(v)}" for k, v in quarterly.items())
    keys = list(quarterly.index)
    changes = [f"{keys[i]} was {(quarterly.iloc[i] / quarterly.iloc[i - 1] - 1) * 100:+.1f}% on {keys[i - 1]}"
               for i in range(1, len(keys)) if quarterly.iloc[i - 1]]
    return f"By quarter ({AGG_LABELS.get(plan.agg, plan.agg)}): {parts}. " + ("; ".join(changes) + "." if changes else "")


def _plot(sub: "pd.DataFrame", plan: Plan, name: str, where: str) -> Finding:
    x = plan.time or _label_column(sub, plan.column)
    columns = [c for c in (x, plan.column, plan.other) if c]
    table = sub[columns].dropna()
    series = table[plan.column]
    text = (f"{plan.column}{where}: {len(series)} values, mean {fmt(series.mean())}, "
            f"min {fmt(series.min())}, max {fmt(series.max())}.")
    return Finding(text, plan, table, x=x, y=plan.column)


_HANDLERS = {"aggregate": _aggregate, "count": _count, "missing": _missing, "group": _group, "top": _top,
             "sort": _sort, "correlation": _correlation, "resample": _resample, "growth": _growth, "plot": _plot}


@tool(name="table_op", injected=("workspace",))
def table_op(path: str, op: str, workspace: str | Path, column: str = "", by: str = "", agg: str = "sum",
             n: int = 0, ascending: bool = False, other: str = "", freq: str = "") -> str:
    """Run one deterministic operation on a table file and describe the result with its numbers.

    Args:
        path: the table file, relative to the workspace.
        op: group, top, sort, correlation, resample, growth, aggregate, count or missing.
        column: the measure column (numbers).
        by: the column to group by (for group and top).
        agg: sum, mean, median, max, min, count or std.
        n: how many rows for top (0 means 1).
        ascending: smallest first (for top and sort).
        other: the second column (for correlation).
        freq: D, W, M, Q or Y (for resample and growth over a date column).
    """
    from tools.files import resolve_in_workspace
    from tools.tables import load_table

    if op not in _HANDLERS:
        raise ValueError(f"unknown op {op!r}; use one of {', '.join(_HANDLERS)}")
    if agg not in AGG_LABELS:
        raise ValueError(f"unknown agg {agg!r}; use one of {', '.join(AGG_LABELS)}")
    source = resolve_in_workspace(path, workspace)
    frame, time_col = prepare_frame(load_table(source))
    for name in (column, by, other):
        if name and name not in frame.columns:
            raise ValueError(f"no column {name!r}; columns: {', '.join(map(str, frame.columns))}")
    plan = Plan(op, column=column or None, agg=agg, by=by or None, n=n or None, ascending=ascending,
                other=other or None, freq=freq or None, time=time_col or month_column(frame))
    return execute(frame, plan, source.name).text
