"""Running the plan pieces of tools.plan_widen: date parts, per-group values, date spans, classifiers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.analysis_plan import Derive, Measure

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DATE_PARTS", "WIDE_STATS", "WideError", "date_part", "days_between", "model_frame", "wide_measure"]

DATE_PARTS = ("year", "month", "day", "weekday")
WIDE_STATS = ("group_value", "days_span", "accuracy")


class WideError(ValueError):
    """A widened step could not run on this table (run_steps reports it like its own StepError)."""


def _parsed(series: "pd.Series") -> "pd.Series":
    import pandas as pd

    return pd.to_datetime(series, errors="coerce", format="mixed")


def date_part(frame: "pd.DataFrame", derive: Derive) -> "pd.Series":
    """The year / month / day / weekday (Monday = 0) of a date column, NaN where it does not parse."""
    dates = _parsed(frame[derive.columns[0]])
    return getattr(dates.dt, derive.op).astype("float")


def days_between(frame: "pd.DataFrame", derive: Derive) -> "pd.Series | None":
    """A 'difference' of two date columns, in days (NaN where either does not parse); None when they
    are not both dates."""
    import pandas as pd

    columns = [frame[c] for c in derive.columns]
    if derive.op != "difference" or any(pd.api.types.is_numeric_dtype(c) for c in columns):
        return None
    first, second = (_parsed(c) for c in columns)
    if first.notna().mean() < 0.9 or second.notna().mean() < 0.9:
        return None
    return (first - second).dt.days.astype("float")


def model_frame(frame: "pd.DataFrame", target: str, features: list[str], encode: str | None
                ) -> tuple["pd.DataFrame", list[str]]:
    """Complete rows of target + features, text features encoded as asked; text without a request to
    encode it is an error (which encoding the question expects cannot be told)."""
    import pandas as pd

    from tools.classify import encode as encode_columns

    data = frame[list(features) + [target]].dropna().reset_index(drop=True)
    text = [c for c in features if not pd.api.types.is_numeric_dtype(data[c])]
    if text and encode is None:
        raise WideError(f"{', '.join(text)} hold text; say how to encode them (label or one-hot)")
    return encode_columns(data, list(features), encode or "label")


def wide_measure(frame: "pd.DataFrame", m: Measure) -> tuple[Any, str]:
    import numpy as np

    if m.stat == "group_value":
        group, column = m.columns
        agg, value = m.options["agg"], m.options["value"]
        rows = frame[frame[group] == value]
        if agg == "count":
            return len(rows), f"rows with {group} = {value}"
        if agg == "count_missing":
            return int(rows[column].isna().sum()), f"missing {column} where {group} = {value}"
        series = rows[column].dropna()
        if series.empty:
            raise WideError(f"no {column} values where {group} = {value}")
        return float(getattr(series, agg)()), f"{agg} of {column} where {group} = {value} ({len(series)} values)"
    if m.stat == "days_span":
        dates = _parsed(frame[m.columns[0]]).dropna()
        if dates.empty:
            raise WideError(f"{m.columns[0]} holds no dates")
        return int((dates.max() - dates.min()).days), f"days from {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}"
    from tools.classify import fit_logistic, predict_logistic
    from tools.stat_tests import split_indices

    opts = m.options
    data, names = model_frame(frame, opts["target"], list(opts["features"]), opts.get("encode"))
    x, y = data[names].to_numpy(float), data[opts["target"]].to_numpy()
    train, test = (split_indices(len(data), opts["test_size"], opts["seed"] if opts["seed"] is not None else 0)
                   if opts.get("test_size") else (list(range(len(data))), list(range(len(data)))))
    classes, weights = fit_logistic(x[train], y[train])
    predicted = predict_logistic(classes, weights, x[test])
    split = f", test {opts['test_size']:.0%} (seed {opts['seed']})" if opts.get("test_size") else ", scored on its training rows"
    return float(np.mean(predicted == y[test])), (f"accuracy of a logistic regression (sklearn's defaults) of "
                                                   f"{opts['target']} on {', '.join(opts['features'])}{split}")
