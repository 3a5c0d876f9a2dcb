"""The snapshot's mapped lookups (issue #14) answer as the dicts they stand for: a vocabulary
hit and miss (tokens with non-ASCII letters sort as Python sorts them), and row tokens that take
writes and deletes over the saved rows."""

from __future__ import annotations

from collections import Counter

import pytest

from memory.mapped_lookup import MappedTokens, SortedTokens

VOCAB = {"zebra": 0, "apple": 1, "émigré": 2, "über": 3, "budget": 4, "a": 5, "ab": 6, "": 7}


def test_a_sorted_token_table_finds_every_token_and_only_those():
    table = SortedTokens(*SortedTokens.encode(VOCAB))
    assert {t: table.get(t) for t in VOCAB} == VOCAB
    for miss in ("aa", "b", "zebras", "émigr", "uber", "zzz", "0"):
        assert table.get(miss) is None and table.get(miss, 0) == 0 and miss not in table
    assert dict(table.items()) == VOCAB and len(table) == len(VOCAB) and table
    assert not SortedTokens(*SortedTokens.encode({}))


def test_a_sorted_token_table_reencodes_to_the_same_arrays():
    arrays = SortedTokens.encode(Counter({"x": 3, "y": 1}))
    again = SortedTokens.encode(SortedTokens(*arrays))
    assert all((a == b).all() for a, b in zip(arrays, again))


def test_mapped_tokens_behave_as_the_dict_they_replace():
    saved = {0: "budget report", 2: "tokyo", 3: "émigré café", 5: ""}
    expected = dict(saved)
    mapped = MappedTokens(*MappedTokens.encode(saved.items(), 6))
    assert dict(mapped) == expected and len(mapped) == 4
    for change in (lambda d: d.__setitem__(2, "replaced"), lambda d: d.__setitem__(7, ["new", "row"]),
                   lambda d: d.pop(3), lambda d: d.pop(9, None), lambda d: d.__setitem__(3, "back again"),
                   lambda d: d.pop(0)):
        change(expected)
        change(mapped)
        assert dict(mapped) == expected and len(mapped) == len(expected)
        assert [r in mapped for r in range(10)] == [r in expected for r in range(10)]
        assert [mapped.get(r, "-") for r in range(10)] == [expected.get(r, "-") for r in range(10)]
    with pytest.raises(KeyError):
        mapped[0]
    with pytest.raises(KeyError):
        del mapped[1]


def test_mapped_sessions_build_a_session_when_read_and_take_changes_as_a_dict():
    import bisect

    import numpy as np

    from memory.mapped_lookup import MappedSessions

    times = np.array([5.0, 1.0, 3.0, 2.0, 9.0])
    expected = {"s1": [(1.0, 1), (3.0, 2)], None: [(2.0, 3), (5.0, 0), (9.0, 4)], "empty": []}
    mapped = MappedSessions(list(expected), np.array([2, 3, 0]), np.array([1, 2, 3, 0, 4]), times)
    assert dict(mapped) == expected and len(mapped) == 3
    for change in (lambda d: bisect.insort(d.setdefault("s1", []), (2.5, 7)),
                   lambda d: bisect.insort(d.setdefault("new", []), (4.0, 8)),
                   lambda d: d.get(None, []).pop(1), lambda d: d.pop("empty")):
        change(expected)
        change(mapped)
        assert dict(mapped) == expected and len(mapped) == len(expected)
        assert [mapped.get(k, "-") for k in ("s1", None, "new", "empty", "nope")] == \
               [expected.get(k, "-") for k in ("s1", None, "new", "empty", "nope")]
    with pytest.raises(ValueError):
        MappedSessions(["a"], np.array([2]), np.array([0]), times)
