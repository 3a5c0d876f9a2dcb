"""Which columns a piece of text names, and where — matched generally, not by any one wording.

A column is named by its whole name in any spelling ("Close", "close", "wind speed" for WINDSPEED,
"applicant income" for ApplicantIncome, "x coordinate" for X-coordinate, a trailing plural "s"),
by a quoted name, or by a distinctive word of its name that no other column has ("income" for
ApplicantIncome when no other column holds "income"). Longer and whole-name matches win over
shorter and partial ones at the same place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["columns_in", "name_words", "squash"]

_WORD = re.compile(r"[a-z0-9]+")
# words that one-word column names are often glued from; matched only when one column holds them
_COMMON_PARTS = {"class", "speed", "price", "income", "amount", "count", "score", "rate", "temp", "name", "date",
                 "size", "level", "length", "width", "height", "weight", "volume", "value", "area", "year", "time"}
_GENERIC = {"the", "of", "and", "per", "in", "to", "a", "an", "by", "for", "no", "id", "value", "values", "number",
            "total", "count", "mean", "data", "type", "rate", "new", "max", "min", "avg", "sum", "std", "with", "from"}


def squash(text: str) -> str:
    """Lower-case letters and digits only: 'Wind Speed' / 'wind_speed' / 'WINDSPEED' → 'windspeed'."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def name_words(name: str) -> list[str]:
    """The words of a column name: 'ApplicantIncome' → applicant, income; 'No. of deaths_max' → no, of, deaths, max."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    return _WORD.findall(spaced.lower())


def columns_in(columns: Iterable[str], text: str) -> list[tuple[str, int]]:
    """(column, word position) for each column the text names, ordered by position; each column once."""
    names = [str(c) for c in columns]
    words = name_words(text)
    spans: list[tuple[int, int, int, str]] = []  # (-strength, start, end, column)
    for column in names:
        target = squash(column)
        if not target:
            continue
        size = max(1, len(name_words(column)))
        for width in range(max(1, size - 2), size + 3):
            for start in range(len(words) - width + 1):
                piece = "".join(words[start:start + width])
                if piece == target or (piece == target + "s" and not target.endswith("s")) or piece == target + "es" or \
                        (piece.rstrip("s") == target and len(target) > 3):
                    spans.append((-(100 + len(target)), start, start + width, column))
    for column, runs in _distinctive_words(names).items():
        for run in runs:
            if run.startswith("^"):  # initials of consecutive words
                size = len(run) - 1
                for start in range(len(words) - size + 1):
                    if "".join(w[0] for w in words[start:start + size]) == run[1:] and \
                            all(len(w) > 2 for w in words[start:start + size]):
                        spans.append((-1, start, start + size, column))
                continue
            parts = run.split()
            for start in range(len(words) - len(parts) + 1):
                piece = words[start:start + len(parts)]
                if piece[:-1] == parts[:-1] and piece[-1] in (parts[-1], parts[-1] + "s"):
                    spans.append((-len(run), start, start + len(parts), column))
    taken: set[int] = set()
    found: dict[str, int] = {}
    for _, start, end, column in sorted(spans):
        if column in found or any(i in taken for i in range(start, end)):
            continue
        found[column] = start
        taken.update(range(start, end))
    return sorted(found.items(), key=lambda kv: kv[1])


def _distinctive_words(names: list[str]) -> dict[str, list[str]]:
    """For each column, the runs of its words (joined) that no other column's name holds, longest
    first: 'bill length' for bill_length_mm beside bill_depth_mm and flipper_length_mm."""
    words = {column: name_words(column) for column in names}
    runs: dict[str, set[str]] = {}
    for column, parts in words.items():
        if "id" in parts:  # 'passenger' alone names the passengers, not PassengerId
            continue
        for size in range(1, len(parts)):
            for start in range(len(parts) - size + 1):
                run = parts[start:start + size]
                if any(w.isdigit() for w in run) or all(w in _GENERIC or len(w) < 3 for w in run):
                    continue
                runs.setdefault(" ".join(run), set()).add(column)
    out: dict[str, list[str]] = {}
    for run, owners in runs.items():
        holders = [c for c in names if re.search(rf"\b{re.escape(run)}\b", " ".join(words[c]))]
        if len(owners) == 1 and len(holders) == 1:
            out.setdefault(next(iter(owners)), []).append(run)
    for column in names:  # one-word names that glue a word on: 'Pclass' ← class, 'WINDSPEED' ← speed
        glued = squash(column)
        if column in out or len(words[column]) != 1 or not glued.isalpha():
            continue
        for size in range(len(glued) - 1, 3, -1):
            hits = [t for t in {glued[-size:], glued[:size]} if t in _COMMON_PARTS]
            if hits and sum(hits[0] in squash(c) for c in names) == 1:
                out[column] = [hits[0]]
                break
    for column in names:  # short names that are initials: bmi ← body mass index, bp ← blood pressure
        if 2 <= len(column) <= 4 and column.isalpha() and column.lower() == column:
            out.setdefault(column, []).append("^" + column.lower())
    return {c: sorted(r, key=len, reverse=True) for c, r in out.items()}
