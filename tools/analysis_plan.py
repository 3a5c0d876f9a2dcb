"""The typed multi-step plan a data question becomes: derive columns → clean/filter rows → measure.

`tools.plan_steps.plan_steps` builds one from a request by rules; `tools.run_steps.run_steps`
executes it with pandas/scipy/numpy. Each answer slot (`@mean_fare[value]` in a requested answer
format, or a statistic the question names) becomes one `Measure`; its value is rounded as asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tools.analysis_ops import Condition

__all__ = ["Clean", "Derive", "Measure", "StepPlan", "StepResult", "answer_slots", "decimals_in", "format_value"]

_SLOT = re.compile(r"@([A-Za-z_][\w.-]*)\[([^\]]*)\]")
_DIGITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_DECIMALS = re.compile(r"\b(\d|zero|one|two|three|four|five|six)\s+(?:decimal|digits? after|significant decimal)", re.I)


@dataclass(frozen=True)
class Derive:
    """A new column: `op` over `columns` (difference, ratio, sum, product, pct_change, log10, ln)."""
    name: str
    op: str
    columns: tuple[str, ...]
    constant: float = 0.0

    def describe(self) -> str:
        sign = {"difference": " - ", "ratio": " / ", "sum": " + ", "product": " × "}.get(self.op)
        body = sign.join(self.columns) if sign else f"{self.op}({self.columns[0]})"
        if self.op == "pct_change":
            return f"{self.name} = {body}" + (f" × {self.constant:g}" if self.constant else "")
        return f"{self.name} = {body}" + (f" + {self.constant:g}" if self.constant else "")


@dataclass(frozen=True)
class Clean:
    """A row-level step: drop missing values, fill them (mean/median/mode), or drop outliers (zscore/iqr)."""
    kind: str  # "dropna" | "fill" | "outliers"
    columns: tuple[str, ...]
    how: str = ""  # fill: mean|median|mode; outliers: zscore|iqr
    threshold: float = 0.0

    def describe(self) -> str:
        cols = ", ".join(self.columns) or "all columns"
        if self.kind == "dropna":
            return f"dropped rows with missing {cols}"
        if self.kind == "fill":
            return f"filled missing {cols} with the {self.how}"
        rule = f"|z| > {self.threshold:g}" if self.how == "zscore" else f"{self.threshold:g}×IQR"
        return f"removed outliers in {cols} ({rule})"


@dataclass(frozen=True)
class Measure:
    """One requested value: the statistic, its columns, and what it needs (method, groups, options)."""
    slot: str
    stat: str
    columns: tuple[str, ...] = ()
    decimals: int = 2
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class StepPlan:
    derives: tuple[Derive, ...] = ()
    cleans: tuple[Clean, ...] = ()
    conditions: tuple[Condition, ...] = ()
    measures: tuple[Measure, ...] = ()
    formatted: bool = False  # the request gave an @name[value] answer format


@dataclass(frozen=True)
class StepResult:
    text: str
    values: dict[str, Any]
    plan: StepPlan


def answer_slots(text: str) -> list[tuple[str, str]]:
    """(name, description) of each `@name[placeholder]` in a requested answer format, in order."""
    found = list(_SLOT.finditer(text))
    slots = []
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        if match.group(1) not in [s for s, _ in slots]:
            slots.append((match.group(1), match.group(2) + " " + text[match.end():end]))
    return slots


def decimals_in(text: str) -> int | None:
    """The precision a text asks for: 'rounded to two decimal places' → 2, 'nearest integer' → 0."""
    match = _DECIMALS.search(text)
    if match:
        word = match.group(1).lower()
        return int(word) if word.isdigit() else _DIGITS[word]
    if re.search(r"\b(?:nearest (?:integer|whole)|whole number|as an? integer)\b", text, re.I):
        return 0
    return None


def format_value(value: Any, decimals: int) -> str:
    """A value as the answer line shows it: rounded as asked; whole counts without a decimal point."""
    if isinstance(value, (bool, str)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    number = float(value)
    if number != number:
        return "nan"
    rounded = round(number, decimals)
    return str(int(rounded)) if decimals == 0 else str(rounded)
