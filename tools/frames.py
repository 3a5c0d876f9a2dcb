"""Frames as the analysis tools see them: dates found and parsed, month names ordered, periods
labelled, numbers written as people write them. pandas is imported on first use."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MONTHS", "fmt", "month_column", "month_number", "period_label", "prepare_frame"]

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
_DATE_LIKE = re.compile(r"^\s*(?:\d{4}-\d{1,2}(?:-\d{1,2})?(?:[ T]\d{1,2}:\d{2}.*)?|\d{1,2}/\d{1,2}/\d{2,4}|"
                        r"[A-Za-z]{3,9}\.? \d{4}|\d{4}/\d{1,2}(?:/\d{1,2})?)\s*$")


def fmt(value: float) -> str:
    """A number as people write it: 45,642 · 1,320.5 · 35.33 · 0.042."""
    value = float(value)
    if value != value:
        return "n/a"
    if abs(value) >= 1000:
        text = f"{value:,.2f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.4g}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def prepare_frame(df: "pd.DataFrame") -> tuple["pd.DataFrame", str | None]:
    """A copy with date-like text columns parsed to datetimes, and the time column (if any)."""
    import warnings

    import pandas as pd

    frame = df.copy()
    time_col = None
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            time_col = time_col or str(column)
            continue
        if pd.api.types.is_numeric_dtype(series) or series.dropna().empty:
            continue
        sample = series.dropna().astype(str)
        if sample.map(lambda v: bool(_DATE_LIKE.match(v))).mean() < 0.9:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(series, errors="coerce", format="mixed")
        if parsed.notna().mean() >= 0.9:
            frame[column] = parsed
            time_col = time_col or str(column)
    return frame, time_col


def month_column(df: "pd.DataFrame") -> str | None:
    """A text column holding month names ("Jan", "February"): an ordered time axis without a year."""
    import pandas as pd

    for column in df.columns:
        series = df[column]
        if pd.api.types.is_numeric_dtype(series) or series.dropna().empty:
            continue
        if series.dropna().astype(str).map(month_number).notna().all():
            return str(column)
    return None


def month_number(text: str) -> int | None:
    word = str(text).strip().lower().rstrip(".")
    for number, name in enumerate(MONTHS, 1):
        if len(word) >= 3 and name.startswith(word):
            return number
    return None


def period_label(stamp: Any, freq: str) -> str:
    if freq == "Q":
        return f"Q{(stamp.month - 1) // 3 + 1} {stamp.year}"
    if freq == "Y":
        return str(stamp.year)
    if freq == "M":
        return stamp.strftime("%b %Y")
    if freq == "W":
        return "week of " + stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%d")
