"""Plan pieces beyond one statistic of one column: per-column and per-group slots, dates, models.

- per column: "missing values in each column" with one slot per column (`@sex[count]`);
- per group: "the average body mass for each species" with one slot per group (`@Adelie[mean]`);
- dates: "extract the month/year of <date column>" becomes a derived column, month names and years
  in the question filter on it; "days between the earliest and the latest <date>" is a span;
- classification: "logistic regression … accuracy" (tools.classify), with text features encoded;
- out of scope: a unit conversion the request states ("in kilograms") — said, never guessed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tools.analysis_ops import Condition
from tools.analysis_plan import Derive, Measure
from tools.column_match import columns_in, squash
from tools.frames import MONTHS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["classify_measure", "date_conditions", "date_derives", "date_span", "each_column", "encoding", "out_of_scope",
           "per_column_measure", "per_group_measure"]

_EACH = r"\b(?:each|every|all(?: the)?|per|individual)\s+(?:numeric(?:al)?\s+)?"
_UNITS = (r"kilo\w*|kg|grams?|pounds?|lbs?|ounces?|tonnes?|met(?:er|re)s?|centimet\w*|millimet\w*|cm|mm|inch\w*|"
          r"feet|foot|miles?|km|kilomet\w*|celsius|fahrenheit|kelvin|thousands?|millions?|billions?")
_CONVERT = re.compile(rf"\b(?:in|into|to)\s+(?:the\s+)?({_UNITS})\b(?!\s+(?:column|range))", re.I)
_COLUMN_STATS = [("count_missing", r"\bmissing\b|\bnull\b|\bnan\b|\bempty\b"), ("mean", r"\bmean\b|\baverage\b"),
                 ("median", r"\bmedian\b"), ("std", r"standard deviation|\bstd\b"), ("nunique", r"\bunique\b|\bdistinct\b"),
                 ("max", r"\bmax\w*\b|\bhighest\b"), ("min", r"\bmin\w*\b|\blowest\b"), ("sum", r"\bsum\b|\btotal\b"),
                 ("count", r"\bcount\b|\bnumber of\b|\bhow many\b")]
_NOT_DEFAULT = re.compile(r"\bC\s*=|max_iter|solver|penalty|liblinear|class_weight|\bl1\b|elastic|scal(?:e|ing|er)\b|"
                         r"standardi[sz]|normali[sz]|stratif|cross[- ]?valid|random forest|\btrees?\b|\bsv[mc]\b|neighbo|"
                         r"naive bayes", re.I)


def out_of_scope(df: "pd.DataFrame", request: str) -> str | None:
    """Why the request cannot be planned honestly (a unit conversion it asks for), or None."""
    for match in _CONVERT.finditer(request):
        unit = match.group(1)
        if unit and any(squash(unit) in squash(str(c)) for c in df.columns):
            continue  # 'in grams' when the column is already body_mass_g: no conversion
        return (f"The question asks for a unit conversion (to {unit}),"
                " which the step planner does not do: it would need a conversion factor the table does not hold.")
    return None


def _stat_in(text: str) -> str | None:
    return next((s for s, pattern in _COLUMN_STATS if re.search(pattern, text, re.I)), None)


def each_column(body: str) -> bool:
    """The question asks for one value per column ('in each column', 'of every numeric column')."""
    return bool(re.search(_EACH + r"(?:columns?|variables?|features?|fields?|attributes?)\b", body, re.I))


def per_column_measure(df: "pd.DataFrame", slot: str, description: str, body: str, decimals: int | None
                       ) -> Measure | None:
    """A slot named exactly like a column, in a question about 'each column': that column's statistic."""
    column = next((str(c) for c in df.columns if squash(str(c)) == squash(slot)), None)
    if column is None or not each_column(body):
        return None
    stat = _stat_in(description.split(" ", 1)[0]) if description.split(" ", 1)[0] != "count" else None
    stat = stat or _stat_in(body)
    if stat is None:
        return None
    places = 0 if stat.startswith("count") or stat == "nunique" else (2 if decimals is None else decimals)
    return Measure(slot, stat, (column,), places)


def per_group_measure(df: "pd.DataFrame", columns: list[str], slot: str, description: str, body: str,
                      decimals: int | None) -> Measure | None:
    """A slot named by a value of a grouping column ('for each species' → @Adelie): that group's statistic."""
    import pandas as pd

    groups = [c for m in re.finditer(r"\b(?:for each|for every|in each|per|by|across(?: all)?(?: the)?|grouped by)\s+(.{1,40})",
                                     body, re.I) for c, _ in columns_in(df.columns, m.group(1))[:1]]
    if not groups:
        return None
    group = groups[0]
    value = next((v for v in df[group].dropna().unique() if squash(str(v)) == squash(slot)), None)
    if value is None:
        return None
    numbers = [c for c, _ in columns_in(columns, body) if c != group and c in df.columns and
               pd.api.types.is_numeric_dtype(df[c])]
    stat = _stat_in(description.split(" ", 1)[0]) or _stat_in(body)
    if stat is None or (stat not in ("count",) and not numbers):
        return None
    places = 0 if stat == "count" else (2 if decimals is None else decimals)
    value = value.item() if hasattr(value, "item") else value
    return Measure(slot, "group_value", (group, numbers[0] if numbers else group), places, {"agg": stat, "value": value})


def _dates(df: "pd.DataFrame", text: str) -> list[str]:
    import pandas as pd

    out = []
    for column, _ in columns_in(df.columns, text):
        series = df[column].dropna()
        if series.empty or pd.api.types.is_numeric_dtype(series):
            continue
        parsed = pd.to_datetime(series.astype(str).head(50), errors="coerce", format="mixed")
        if parsed.notna().mean() >= 0.9:
            out.append(column)
    return out


def date_derives(df: "pd.DataFrame", body: str) -> list[Derive]:
    """'extract the month (year, day, weekday) from <date column>' → a derived column named for it."""
    found = []
    for part in re.findall(r"[^.;]*\b(?:year|month|day of the week|weekday|day)s?\b[^.;]*", body, re.I):
        if not re.search(r"\b(?:extract|get|take|derive|parse|convert|datetime|date)\w*", part, re.I):
            continue
        for column in _dates(df, part)[:1]:
            for unit in ("year", "month", "weekday", "day"):
                if re.search(rf"\b{unit if unit != 'weekday' else 'weekday|day of the week'}s?\b", part, re.I):
                    found.append(Derive(f"{column} {unit}", unit, (column,)))
                    break
    return found


def date_conditions(derives: list[Derive], body: str) -> list[Condition]:
    """Filters on derived date parts: a month's name ('laid in November'), a year ('in 2008')."""
    out = []
    for derive in derives:
        if derive.op == "month":
            named = [i + 1 for i, m in enumerate(MONTHS) if re.search(rf"\b{m}\b", body, re.I)]
            if len(named) == 1:
                out.append(Condition(derive.name, "==", float(named[0])))
        if derive.op == "year":
            years = set(re.findall(r"\b(?:in|during|of|for)\s+((?:19|20)\d\d)\b", body))
            if len(years) == 1:
                out.append(Condition(derive.name, "==", float(years.pop())))
    return out


def date_span(df: "pd.DataFrame", slot: str, body: str) -> Measure | None:
    """'How many days between the earliest and the latest <date>' → the span in days."""
    if not re.search(r"\bdays?\b", slot + " " + body, re.I) or not re.search(
            r"\b(?:earliest|first|oldest|min\w*)\b.{0,40}\b(?:latest|last|newest|most recent|max\w*)\b", body, re.I):
        return None
    dates = _dates(df, body)
    return Measure(slot, "days_span", (dates[0],), 0) if dates else None


def encoding(body: str) -> str | None:
    """How the request asks text columns to become numbers: 'onehot', 'label', or None (not asked)."""
    if re.search(r"one[- ]?hot|dumm(?:y|ies)|get_dummies", body, re.I):
        return "onehot"
    if re.search(r"\b(?:label[- ]?encod\w*|encod\w*|numerical values|numeric values|map\w* .{0,30}\bto (?:0|numbers))", body, re.I):
        return "label"
    return None


def classify_measure(columns: list[str], slot: str, body: str, places: int, opts: dict) -> Measure | None:
    """'logistic regression … classify/predict Y from A and B … accuracy' → a fitted classifier's accuracy."""
    if not re.search(r"logistic|classif\w*", body, re.I) or _NOT_DEFAULT.search(body):
        return None  # another model, or settings other than sklearn's defaults: not planned
    said = re.search(r"\b(?:predict|classify|classif\w+)\w*\s+(?:the\s+|whether\s+)?(.+?)\s+"
                     r"(?:based on|using|from|with|by|given)\s+(?:the\s+)?(?:features?\s+)?(.+?)(?:[.;]\s|$)", body, re.I | re.S)
    if not said:
        return None
    target = [c for c, _ in columns_in(columns, said.group(1))]
    features = [c for c, _ in columns_in(columns, said.group(2)) if c not in target[:1]]
    if not target or not features:
        return None
    seed = re.search(r"random[_ ]?state\D{0,6}(\d+)|seed\D{0,6}(\d+)", body, re.I)
    opts.update(target=target[0], features=tuple(features), seed=int(seed.group(1) or seed.group(2)) if seed else None,
                encode=encoding(body), model="logistic")
    return Measure(slot, "accuracy", (target[0], *features), places, opts)
