"""Running a `StepPlan` with pandas/scipy/numpy: derive → filter → clean → measure → report.

Every number in the result comes from here. The report is a sentence per value (with the steps
that produced it) and, when the request gave an answer format, one `@name[value]` line per slot,
rounded as asked. A step that cannot run raises `StepError` with the reason; the chain then
answers another way.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from tools.analysis_ops import apply_conditions, describe_conditions
from tools.analysis_plan import (
    Clean,
    Derive,
    Measure,
    StepPlan,
    StepResult,
    format_value,
)
from tools.run_widen import (
    DATE_PARTS,
    WIDE_STATS,
    WideError,
    date_part,
    days_between,
    model_frame,
    wide_measure,
)
from tools.stat_tests import (
    chi_square,
    correlation,
    group_test,
    iqr_mask,
    normality,
    regression,
    shape,
    within_std,
    zscore_mask,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["StepError", "run_steps"]

_LABELS = {"mean": "mean", "median": "median", "std": "standard deviation", "var": "variance", "max": "maximum",
           "min": "minimum", "sum": "sum", "mode": "mode", "nunique": "number of distinct values", "skew": "skewness",
           "kurtosis": "kurtosis", "count": "number of rows", "count_missing": "number of missing values",
           "count_outliers": "number of outliers", "within": "number of values within the band",
           "correlation": "correlation coefficient", "pvalue": "p-value", "statistic": "test statistic",
           "slope": "coefficient", "intercept": "intercept", "r2": "R²", "rmse": "RMSE", "mse": "MSE", "mae": "MAE",
           "verdict": "conclusion"}


class StepError(ValueError):
    """A planned step could not be computed on this table; the message says which and why."""


def run_steps(df: "pd.DataFrame", plan: StepPlan, name: str = "the table") -> StepResult:
    frame = df.copy()
    for derive in plan.derives:
        frame[derive.name] = _derived(frame, derive)
    everything = frame
    frame = apply_conditions(frame, plan.conditions) if plan.conditions else frame
    if frame.empty:
        raise StepError(f"no rows of {name} match{describe_conditions(plan.conditions)}")
    used = list(dict.fromkeys(c for m in plan.measures for c in m.columns if c in frame.columns))
    before_outliers = frame
    for clean in plan.cleans:
        if clean.kind == "outliers":
            before_outliers = frame
        frame = _cleaned(frame, clean if clean.columns or clean.kind != "dropna" else Clean("dropna", tuple(used)))
    values: dict[str, Any] = {}
    lines: list[str] = []
    for measure in plan.measures:
        source = before_outliers if measure.stat == "count_outliers" else frame
        if measure.stat == "percent":
            if not plan.conditions:
                raise StepError("a share needs a condition to count")
            value = len(frame) / len(everything) * measure.options["scale"]
            detail = f"{len(frame)} of {len(everything)} rows"
        elif measure.stat == "group_extreme":
            value, detail = _group_extreme(frame, measure)
            frame = frame[frame[measure.columns[0]] == value]  # the values asked next are about this group
            before_outliers = frame
        else:
            value, detail = _measure(source, measure)
        shown = format_value(value, measure.decimals)
        values[measure.slot] = shown
        lines.append(f"- {measure.slot}: {shown} ({detail})")
    steps = [d.describe() for d in plan.derives] + [c.describe() for c in plan.cleans]
    where = describe_conditions(plan.conditions).strip()
    head = f"From {name} ({len(df)} rows)" + (f", {where}" if where else "") + \
        (", " + "; ".join(steps) if steps else "") + f"; {len(frame)} rows used:"
    text = "\n".join([head, *lines])
    if plan.formatted:
        text += "\n\n" + "\n".join(f"@{slot}[{value}]" for slot, value in values.items())
    return StepResult(text, values, plan)


def _column(frame: "pd.DataFrame", column: str) -> "pd.Series":
    if column not in frame.columns:
        raise StepError(f"no column {column!r}")
    return frame[column]


def _numbers(frame: "pd.DataFrame", column: str) -> "pd.Series":
    import pandas as pd

    series = _column(frame, column)
    if not pd.api.types.is_numeric_dtype(series):
        converted = pd.to_numeric(series, errors="coerce")
        if converted.notna().sum() < max(1, series.notna().sum() // 2):
            raise StepError(f"{column} is not numeric")
        series = converted
    return series


def _derived(frame: "pd.DataFrame", derive: Derive) -> "pd.Series":
    import numpy as np

    if derive.op in DATE_PARTS:
        return date_part(frame, derive)
    days = days_between(frame, derive)
    if days is not None:
        return days
    cols = [_numbers(frame, c) for c in derive.columns]
    if derive.op == "difference":
        return cols[0] - cols[1]
    if derive.op == "ratio":
        return (cols[0] / cols[1]).replace([np.inf, -np.inf], np.nan)
    if derive.op == "product":
        return cols[0] * cols[1]
    if derive.op == "sum":
        return sum(cols[1:], cols[0]) + derive.constant
    if derive.op == "pct_change":
        return cols[0].pct_change() * (derive.constant or 1.0)
    if derive.op == "log10":
        return np.log10(cols[0].where(cols[0] > 0))
    return np.log(cols[0].where(cols[0] > 0))


def _cleaned(frame: "pd.DataFrame", clean: Clean) -> "pd.DataFrame":
    import pandas as pd

    columns = list(clean.columns)
    if clean.kind == "dropna":
        return frame.dropna(subset=columns or None)
    if clean.kind == "fill":
        out = frame.copy()
        targets = columns or [c for c in out.columns if out[c].isna().any()]
        for column in targets:
            series = _column(out, column)
            if clean.how == "mode" or not pd.api.types.is_numeric_dtype(series):
                modes = series.mode()
                if not modes.empty:
                    out[column] = series.fillna(modes.iloc[0])
            else:
                out[column] = series.fillna(series.median() if clean.how == "median" else series.mean())
        return out
    mask = None
    for column in columns:
        series = _numbers(frame, column)
        hit = iqr_mask(series, clean.threshold) if clean.how == "iqr" else zscore_mask(series, clean.threshold)
        mask = hit if mask is None else mask | hit
    return frame if mask is None else frame[~mask]


def _measure(frame: "pd.DataFrame", m: Measure) -> tuple[Any, str]:
    stat, cols, opts = m.stat, m.columns, m.options
    label = _LABELS.get(stat, stat)
    if stat in WIDE_STATS:
        try:
            return wide_measure(frame, m)
        except WideError as exc:
            raise StepError(str(exc)) from exc
    if stat == "count":
        return len(frame), "rows after the steps above"
    if stat == "count_missing":
        missing = int(frame[cols[0]].isna().sum()) if cols else int(frame.isna().sum().sum())
        return missing, f"missing values in {cols[0] if cols else 'the table'}"
    test = opts.get("test")
    if test == "correlation":
        r, p, n = correlation(_numbers(frame, cols[0]), _numbers(frame, cols[1]), opts.get("method", "pearson"))
        what = f"{opts.get('method', 'pearson').title()} r between {cols[0]} and {cols[1]} = {r:.4f}, p = {p:.4g}, n = {n}"
        if stat == "verdict":
            return _verdict(m, p, r), what
        return {"correlation": r, "statistic": r, "pvalue": p}[stat], what
    if test == "normality":
        w, p = normality(_numbers(frame, cols[0]), opts.get("method", "shapiro"))
        what = f"{opts.get('method', 'shapiro')} test on {cols[0]}: statistic {w:.4f}, p = {p:.4g}"
        return (_verdict(m, p) if stat == "verdict" else w if stat == "statistic" else p), what
    if test == "chi2":
        chi, p = chi_square(_column(frame, cols[0]), _column(frame, cols[1]))
        what = f"chi-square of {cols[0]} × {cols[1]} = {chi:.4f}, p = {p:.4g}"
        return (_verdict(m, p) if stat == "verdict" else chi if stat == "statistic" else p), what
    if test in ("mannwhitney", "ttest", "welch", "anova", "kruskal"):
        measure, group = cols
        keys = list(opts.get("groups") or sorted(frame[group].dropna().unique()))
        if test in ("mannwhitney", "ttest", "welch") and len(keys) != 2:
            raise StepError(f"{test} needs two groups of {group}; found {len(keys)}")
        samples = [_numbers(frame[frame[group] == k], measure) for k in keys]
        s, p = group_test(test, samples)
        what = f"{test} on {measure} across {group} = {', '.join(map(str, keys))}: statistic {s:.4f}, p = {p:.4g}"
        return (_verdict(m, p) if stat == "verdict" else s if stat == "statistic" else p), what
    if "target" in opts:
        try:
            data, names = model_frame(frame, opts["target"], list(opts["features"]), opts.get("encode"))
        except WideError as exc:
            raise StepError(str(exc)) from exc
        fit = regression(data, opts["target"], names, opts.get("test_size"), opts.get("seed"))
        key = f"coef_{opts['coef']}" if stat == "slope" else stat
        if key not in fit:
            raise StepError(f"no single coefficient for {opts['coef']} (it was one-hot encoded)")
        split = f", test {opts['test_size']:.0%} (seed {opts['seed']})" if opts.get("test_size") else ""
        return fit[key], f"linear regression of {opts['target']} on {', '.join(opts['features'])}{split}"
    series = _numbers(frame, cols[0]) if stat not in ("mode", "nunique") else _column(frame, cols[0])
    values = series.dropna()
    if values.empty:
        raise StepError(f"{cols[0]} has no values")
    if stat == "count_outliers":
        hit = iqr_mask(values, opts["threshold"]) if opts["how"] == "iqr" else zscore_mask(values, opts["threshold"])
        return int(hit.sum()), f"{opts['how']} outliers in {cols[0]} (threshold {opts['threshold']:g})"
    if stat == "within":
        return within_std(values, opts["k"]), f"values of {cols[0]} within {opts['k']:g} std of the mean"
    if stat in ("skew", "kurtosis"):
        return shape(values, stat), f"{label} of {cols[0]} over {len(values)} values"
    if stat == "mode":
        return values.mode().iloc[0], f"most frequent {cols[0]}"
    if stat == "nunique":
        return int(values.nunique()), f"distinct {cols[0]}"
    result = float(getattr(values, stat)())
    if math.isnan(result):
        raise StepError(f"the {label} of {cols[0]} is not defined here")
    return result, f"{label} of {cols[0]} over {len(values)} values"


def _group_extreme(frame: "pd.DataFrame", m: Measure) -> tuple[Any, str]:
    group, measure = m.columns
    agg = m.options["agg"]
    grouped = frame.groupby(group)[measure].agg("size" if agg == "count" else agg).dropna()
    if grouped.empty:
        raise StepError(f"no groups of {group} with {measure}")
    key = grouped.idxmin() if m.options["ascending"] else grouped.idxmax()
    return key, f"{group} with the {'lowest' if m.options['ascending'] else 'highest'} {agg} {measure} ({grouped[key]:.4g})"


def _verdict(m: Measure, p: float, r: float | None = None) -> str:
    """Pick the answer option the test supports: p against alpha; for a correlation, also |r|."""
    choices = [str(c) for c in m.options.get("choices", [])]
    low = [c.lower() for c in choices]
    significant = p < m.options.get("alpha", 0.05)
    negated = [c for c, lc in zip(choices, low) if _negative(lc)]
    plain = [c for c in choices if c not in negated]
    if r is not None and any("linear" in c for c in low):
        if not significant:
            return next((c for c, lc in zip(choices, low) if lc in ("none", "no", "no relationship")), "none")
        want = "linear" if abs(r) >= m.options.get("strong", 0.5) else "nonlinear"
        return next((c for c, lc in zip(choices, low) if lc.replace("-", "") == want), want)
    if r is not None and any(c in ("positive", "negative") for c in low) and significant:
        return next(c for c, lc in zip(choices, low) if lc == ("positive" if r > 0 else "negative"))
    normal_test = m.options.get("test") == "normality"
    holds = (not significant) if normal_test else significant  # normal: p ≥ alpha; a difference: p < alpha
    if not plain or not negated:
        raise StepError("cannot tell which answer option the test supports")
    return plain[0] if holds else negated[0]


def _negative(option: str) -> bool:
    """'not normal', 'no', 'none', 'non-normal', 'nonlinear', 'insignificant', 'abnormal' — the option that denies."""
    words = re.findall(r"[a-z]+", option)
    return bool(words) and (words[0] in {"no", "not", "none", "non", "nonlinear", "insignificant", "abnormal"}
                            or "not" in words or option.startswith(("non-", "non ")))
