"""Time expressions in a query, turned into a window of `created_at` relative to `now`.

    find_time("what did we decide last week?", now)  -> TimeWindow(start, end, phrase="last week")

Understood: ISO dates (2026-05-07, 2026-05), month names with or without a day or year ("in May",
"May 7th", "7 May 2025", "since March"), yesterday/today/tonight, "N days|weeks|months|years ago",
"last|past N days…", "last|this week|month|year|weekend", weekdays ("on Tuesday", "last Friday"),
"in 2025", and vague ones ("recently", "the other day", "earlier this year") with a lower
`strength`. A month or day without a year means its latest occurrence not after `now`.
Search uses the window as a boost, never as a hard filter, so a wrong guess costs little.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

MONTHS = {
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
         ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
         ("november", "nov"), ("december", "dec")],
        start=1,
    )
    for name in names
}
WEEKDAYS = {d: i for i, d in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])}
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "couple of": 2,
           "a few": 3, "few": 3, "several": 4}
UNIT_DAYS = {"day": 1, "week": 7, "month": 30.44, "year": 365.25}

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY = "|".join(WEEKDAYS)
_NUM = r"\d+|" + "|".join(sorted(NUMBERS, key=len, reverse=True))
_UNIT = r"(day|week|month|year)s?"


@dataclass(frozen=True)
class TimeWindow:
    """[start, end) in UTC; `phrase` is the matched text; `strength` in (0, 1]: how sure we are."""

    start: datetime
    end: datetime
    phrase: str
    strength: float = 1.0

    def contains(self, ts: float) -> bool:
        return self.start.timestamp() <= ts < self.end.timestamp()


def _day(d: datetime) -> datetime:
    return d.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_window(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word]


def _latest_month(month: int, now: datetime) -> int:
    return now.year if month <= now.month else now.year - 1


def _rules(now: datetime):
    today = _day(now)
    day = timedelta(days=1)
    monday = today - timedelta(days=today.weekday())

    def iso_day(m):
        start = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=timezone.utc)
        return start, start + day, 1.0

    def iso_month(m):
        return (*_month_window(int(m[1]), int(m[2])), 1.0)

    def month_day(m, month_group, day_group, year_group):
        month, dom = MONTHS[m[month_group].lower()], int(m[day_group])
        year = int(m[year_group]) if m[year_group] else None
        if year is None:
            year = now.year if (month, dom) <= (now.month, now.day) else now.year - 1
        start = datetime(year, month, min(dom, 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31),
                         tzinfo=timezone.utc)
        return start - day, start + 2 * day, 1.0  # a day's slack: people misremember by one

    def month_name(m):
        month = MONTHS[m[2].lower()]
        year = int(m[3]) if m[3] else _latest_month(month, now)
        start, end = _month_window(year, month)
        if m[1] and m[1].lower() in ("since", "after"):
            return start, now + day, 0.8
        if m[1] and m[1].lower() == "before":
            return start - timedelta(days=365), start, 0.6
        return start, end, 1.0

    def year(m):
        y = int(m[2])
        return datetime(y, 1, 1, tzinfo=timezone.utc), datetime(y + 1, 1, 1, tzinfo=timezone.utc), 0.9

    def ago(m):
        n, unit = _count(m[1].lower()), UNIT_DAYS[m[2].lower()]
        centre = now - timedelta(days=n * unit)
        half = timedelta(days=max(1.0, unit / 2 if unit > 1 else 1))
        return _day(centre - half), _day(centre + half) + day, 0.9

    def past_n(m):
        n, unit = _count(m[1].lower()), UNIT_DAYS[m[2].lower()]
        return _day(now - timedelta(days=n * unit)), now + day, 0.9

    def relative(m):
        which, unit = m[1].lower(), m[2].lower()
        if unit == "week":
            start = monday - timedelta(days=7) if which in ("last", "previous", "past") else monday
            return start, start + timedelta(days=7) + (day if which != "this" else timedelta(days=1)), 1.0
        if unit == "weekend":
            saturday = monday + timedelta(days=5)
            if which in ("last", "previous", "past") or saturday > today:
                saturday -= timedelta(days=7)
            return saturday - day, saturday + 3 * day, 1.0  # Fri evening to Monday: a day's slack
        if unit == "month":
            if which == "this":
                return (*_month_window(now.year, now.month), 1.0)
            y, mo = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
            return (*_month_window(y, mo), 1.0)
        y = now.year if which == "this" else now.year - 1
        return datetime(y, 1, 1, tzinfo=timezone.utc), datetime(y + 1, 1, 1, tzinfo=timezone.utc), 0.9

    def weekday(m):
        target = WEEKDAYS[m[2].lower()]
        back = (today.weekday() - target) % 7 or 7  # the latest one before today
        start = today - timedelta(days=back)
        return start, start + day, 0.9

    def yesterday(m):
        word = m[0].lower()
        if word.startswith("the day before"):
            return today - 2 * day, today - day, 1.0
        if word == "yesterday" or word == "last night":
            return today - day, today + timedelta(hours=6), 1.0
        return today, now + day, 1.0  # today, tonight, this morning/afternoon/evening

    def vague(m):
        word = m[0].lower()
        if word == "the other day":
            return today - 8 * day, today, 0.6
        if word.startswith("earlier this"):
            unit = word.split()[-1]
            start = {"week": monday, "month": today.replace(day=1), "year": today.replace(month=1, day=1)}.get(unit, today)
            return start, now + day, 0.7
        return today - 30 * day, now + day, 0.5  # recently, lately

    return [
        (r"\b(\d{4})-(\d{2})-(\d{2})\b", iso_day),
        (rf"\b({_MONTH})\.? (\d{{1,2}})(?:st|nd|rd|th)?\b(?:,? (\d{{4}}))?", lambda m: month_day(m, 1, 2, 3)),
        (rf"\b(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?({_MONTH})\b(?:,? (\d{{4}}))?", lambda m: month_day(m, 2, 1, 3)),
        (r"\b(\d{4})-(\d{2})\b", iso_month),
        (r"\b(the day before yesterday|yesterday|last night|today|tonight|this (?:morning|afternoon|evening))\b",
         yesterday),
        (rf"\b({_NUM}) {_UNIT} ago\b", ago),
        (rf"\b(?:last|past|previous) ({_NUM}) {_UNIT}\b", past_n),
        (r"\b(last|this|previous|past) (week|weekend|month|year)\b", relative),
        (rf"\b(on |last |this )?({_DAY})\b", weekday),
        (rf"\b(in|during|since|after|before|of)? ?({_MONTH})\b(?: (\d{{4}}))?", month_name),
        (r"\b(in|during|since|of) ((?:19|20)\d{2})\b", year),
        (r"\b(the other day|earlier this (?:week|month|year)|recently|lately)\b", vague),
    ]


def find_time(query: str, now: datetime) -> TimeWindow | None:
    """The first time expression in `query` as a window relative to `now` (aware or UTC)."""
    now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)
    for pattern, build in _rules(now):
        for match in compiled(pattern).finditer(query):
            if _is_a_verb(match):
                continue
            try:
                start, end, strength = build(match)
            except (ValueError, KeyError, OverflowError):
                continue
            return TimeWindow(start, end, match.group(0).strip(), strength)
    return None


@functools.cache
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def prepare() -> None:
    """Compile the time patterns now (~20-80 ms on 2 shared cores): the store does it in a
    background thread while Chroma opens, so the first search does not."""
    for pattern, _ in _rules(datetime.now(timezone.utc)):
        compiled(pattern)


def _is_a_verb(match: re.Match) -> bool:
    """"may" and "march" are months only when they look like one: capitalised (not opening
    the query), or with "in"/"since"/… before them or a day or year after them."""
    words = match.group(0).split()
    ambiguous = [w for w in words if w.lower().strip(".") in ("may", "march", "mar")]
    if not ambiguous:
        return False
    if len(words) > 1:
        return False
    return not (ambiguous[0][0].isupper() and match.start() > 0)


def strip_phrase(query: str, window: TimeWindow | None) -> str:
    """`query` without the time phrase (so "week" does not become a search word)."""
    if window is None:
        return query
    return re.sub(re.escape(window.phrase), " ", query, count=1, flags=re.IGNORECASE)
