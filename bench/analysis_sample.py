"""The in-distribution arm of the analysis bench: questions over this project's own sample tables
(bench/data: sales.csv, employees.csv, weather.jsonl), each with a fixed expected answer worked out
once with pandas — numbers (all must appear, within rounding), a label (must be the first of its
candidates named), or "cannot tell". These tables and questions were written with the rules in view,
so their figure is in-distribution. Run by bench_analysis.py (--sample).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT / "bench" / "data"
REGIONS = ("North", "South", "East", "West")
DEPARTMENTS = ("Engineering", "Sales", "Support", "Marketing")
CANNOT = "cannot tell"

# (question, expected): a list of numbers, ("label", winner, candidates), or CANNOT
QUESTIONS: list[tuple[str, object]] = [
    ("What is the total revenue in sales.csv?", [145019.5]),
    ("Which region had the highest total revenue in sales.csv?", ("label", "North", REGIONS)),
    ("Which region had the lowest total revenue in sales.csv?", ("label", "East", REGIONS)),
    ("What were the total units by product in sales.csv?", [5335, 3167, 1874]),
    ("What was the quarter-over-quarter growth of revenue in sales.csv?", [8.3, 8.4, 6.3]),
    ("What is the average revenue for Gadget in sales.csv?", [1319.58]),
    ("How many rows in sales.csv have units over 100?", [31]),
    ("What was the average profit per region in sales.csv?", CANNOT),
    ("Which department has the highest average salary in employees.csv?", ("label", "Engineering", DEPARTMENTS)),
    ("What is the correlation between years and salary in employees.csv?", [0.69]),
    ("How many employees in employees.csv have a missing email?", [3]),
    ("How many employees work in Sales according to employees.csv?", [5]),
    ("What is the median salary in employees.csv?", [69760.5]),
    ("How old is the oldest employee in employees.csv?", [46]),
    ("What was the total rain_mm in February in weather.jsonl?", [64.1]),
    ("What was the average temp_c in weather.jsonl?", [6.95]),
    ("What was the weather like in 2019 according to weather.jsonl?", CANNOT),
    ("What was the highest temp_c in weather.jsonl?", [16.0]),
    ("Which product sold the most units in Q4 in sales.csv?", ("label", "Widget", ("Widget", "Gadget", "Gizmo"))),
    ("What is the average age of employees who work remotely in employees.csv?", [38.0]),
    ("What was the revenue of the West region in March in sales.csv?", [3047.5]),
    ("What are the average units per region in sales.csv?", [90.83, 75.36, 68.89, 53.14]),
]
_PROFILE_LINE = re.compile(r"^(?:Table .*rows × .*columns\.|- \S.*\((?:numeric|text|dates|bool).*|Strongest correlation:.*)$")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def answer_part(text: str) -> str:
    """The reply without the table profile lines the chain prints as context."""
    return "\n".join(line for line in text.splitlines() if not _PROFILE_LINE.match(line.strip()))


def numbers_in(text: str) -> list[float]:
    found = []
    for raw in _NUMBER.findall(text):
        try:
            found.append(float(raw.replace(",", "")))
        except ValueError:
            continue
    return found


def close(value: float, expected: float) -> bool:
    decimals = len(str(expected).split(".")[1]) if "." in str(expected) else 0
    return abs(value - expected) <= max(0.5 * 10 ** -decimals, abs(expected) * 1e-4)


def correct(text: str, expected: object) -> bool:
    answer = answer_part(text)
    if expected == CANNOT:
        return bool(re.search(r"cannot tell|can't tell|can not tell|not in (?:the|this) data|no data for|"
                              r"does not (?:contain|include)|no column", answer, re.I))
    if isinstance(expected, tuple):
        _, winner, candidates = expected
        positions = {c: answer.find(c) for c in candidates if c in answer}
        return bool(positions) and min(positions, key=positions.get) == winner
    values = numbers_in(answer)
    return all(any(close(v, e) for v in values) for e in expected)
