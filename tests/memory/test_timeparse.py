"""Time words in queries, relative to a fixed `now` (Wednesday 2026-05-20 15:00 UTC)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from memory.timeparse import find_time, strip_phrase

NOW = datetime(2026, 5, 20, 15, tzinfo=timezone.utc)


def d(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "query, inside, outside",
    [
        ("what did we decide last week?", d(2026, 5, 13), d(2026, 5, 20, 12)),
        ("yesterday's notes", d(2026, 5, 19, 10), d(2026, 5, 18, 10)),
        ("the plan from 3 days ago", d(2026, 5, 17, 12), d(2026, 5, 10)),
        ("two weeks ago", d(2026, 5, 6), d(2026, 5, 19)),
        ("in May", d(2026, 5, 2), d(2026, 4, 28)),
        ("in March", d(2026, 3, 15), d(2025, 3, 15)),
        ("in December", d(2025, 12, 15), d(2026, 1, 15)),  # the latest December, not a future one
        ("on 2026-05-07", d(2026, 5, 7, 13), d(2026, 5, 9)),
        ("May 7th", d(2026, 5, 7, 13), d(2026, 5, 12)),
        ("7 March 2025", d(2025, 3, 7), d(2026, 3, 7)),
        ("last weekend", d(2026, 5, 16, 20), d(2026, 5, 12)),
        ("on Tuesday", d(2026, 5, 19, 9), d(2026, 5, 12, 9)),
        ("in 2025", d(2025, 7, 1), d(2026, 2, 1)),
        ("the past 10 days", d(2026, 5, 12), d(2026, 5, 5)),
        ("recently", d(2026, 5, 1), d(2026, 3, 1)),
    ],
)
def test_windows(query, inside, outside):
    window = find_time(query, NOW)
    assert window is not None, query
    assert window.contains(inside.timestamp()), (query, window)
    assert not window.contains(outside.timestamp()), (query, window)


@pytest.mark.parametrize("query", ["may I ask about the report?", "what is the capital of France", "march on", "a 2025 budget"])
def test_no_time_words(query):
    assert find_time(query, NOW) is None


def test_strip_phrase_and_vagueness():
    window = find_time("what did Alice say last week about prose", NOW)
    assert strip_phrase("what did Alice say last week about prose", window).split() == "what did Alice say about prose".split()
    assert find_time("recently", NOW).strength < find_time("yesterday", NOW).strength
    naive = find_time("yesterday", datetime(2026, 5, 20, 15))
    assert naive.start.tzinfo is not None
