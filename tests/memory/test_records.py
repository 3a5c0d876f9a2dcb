"""Memory, Hit and StoreStats: validation, UTC times and the dict round trip."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from memory import Hit, Memory


def test_defaults():
    before = datetime.now(timezone.utc)
    memory = Memory("hello")
    assert memory.kind == "turn"
    assert memory.metadata == {}
    assert memory.namespace is None and memory.session is None
    assert before <= memory.created_at <= datetime.now(timezone.utc)
    assert memory.created_at.tzinfo is timezone.utc
    assert len(memory.id) == 32 and int(memory.id, 16) >= 0
    assert Memory("hello").id != memory.id


@pytest.mark.parametrize("kind", ["turn", "artifact", "fact", "summary"])
def test_known_kinds(kind):
    assert Memory("x", kind=kind).kind == kind


def test_unknown_kind_names_the_kinds():
    with pytest.raises(ValueError, match=r"unknown memory kind 'note'.*artifact, fact, summary, turn"):
        Memory("x", kind="note")


def test_naive_created_at_is_utc_and_aware_is_converted():
    assert Memory("x", created_at=datetime(2026, 5, 7, 13, 56)).created_at == datetime(
        2026, 5, 7, 13, 56, tzinfo=timezone.utc
    )
    paris = timezone(timedelta(hours=2))
    converted = Memory("x", created_at=datetime(2026, 5, 7, 15, 56, tzinfo=paris)).created_at
    assert converted == datetime(2026, 5, 7, 13, 56, tzinfo=timezone.utc)
    assert converted.tzinfo is timezone.utc


@pytest.mark.parametrize(
    "metadata, error",
    [
        ({"a": float("nan")}, ValueError),
        ({"a": float("inf")}, ValueError),
        ({"a": (1, 2)}, TypeError),
        ({"a": {1: "x"}}, TypeError),
        ({1: "x"}, TypeError),
        ({"a": object()}, TypeError),
        (["not", "a", "dict"], TypeError),
    ],
)
def test_metadata_must_be_json(metadata, error):
    with pytest.raises(error):
        Memory("x", metadata=metadata)


def test_metadata_is_copied():
    source = {"a": 1}
    memory = Memory("x", metadata=source)
    source["a"] = 2
    assert memory.metadata == {"a": 1}


@pytest.mark.parametrize("field, value", [("text", 3), ("id", ""), ("session", ""), ("namespace", 5)])
def test_bad_fields(field, value):
    kwargs = {"text": "x", field: value}
    with pytest.raises((TypeError, ValueError)):
        Memory(**kwargs)


def test_frozen_and_hashable():
    memory = Memory("x", metadata={"a": [1]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        memory.text = "y"  # type: ignore[misc]
    assert {memory, memory} == {memory}
    assert Hit(memory, 0.5).score == 0.5


def test_dict_round_trip():
    memory = Memory(
        "Ünïcode ✓",
        kind="artifact",
        metadata={"n": None, "b": False, "i": 7, "f": 0.1, "s": "é", "l": [1, "a"], "d": {"k": None}},
        created_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc),
        namespace="alice",
        session="q3",
    )
    assert Memory.from_dict(memory.to_dict()) == memory


def test_from_dict_needs_text():
    with pytest.raises(ValueError, match="text"):
        Memory.from_dict({"kind": "fact"})
