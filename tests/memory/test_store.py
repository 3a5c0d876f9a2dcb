"""The MemoryStore contract, run against embedded Chroma and a real `chroma run` server, with the
real embedder."""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime, timedelta, timezone

import pytest

from memory import Hit, Memory, MemoryStore, StoreStats

DISTRACTORS = [
    "The Q3 revenue grew by 12 percent compared with Q2.",
    "Bob's favourite programming language is Rust.",
    "The deployment script runs every night at 2 am.",
    "Paris is the capital of France.",
    "The chart shows monthly active users by region.",
    "Remember to water the plants on Fridays.",
]
ALICE = "Alice prefers short sentences and plain words in her writing."


def test_search_finds_the_relevant_fact(store):
    ids = store.add_many([Memory(text, kind="fact") for text in DISTRACTORS[:3]])
    alice = store.add(Memory(ALICE, kind="fact", metadata={"source": "chat"}))
    ids += store.add_many([Memory(text, kind="fact") for text in DISTRACTORS[3:]])

    hits = store.search("how does Alice like her prose?", k=5)

    assert len(hits) == 5 and all(isinstance(hit, Hit) for hit in hits)
    assert hits[0].memory.id == alice and hits[0].memory.text == ALICE
    assert hits[0].memory.namespace == "default"
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)
    similarities = [hit.similarity for hit in hits]  # the cosine, for "is it related at all" thresholds
    assert all(-1.0 <= s <= 1.0 for s in similarities)
    assert similarities[0] > 0.4 and similarities[0] - max(similarities[1:]) > 0.1
    assert "vector" in hits[0].sources

    plain = store.search("how does Alice like her prose?", k=5, mode="vector")  # the old cosine top-k
    assert plain[0].memory.id == alice and plain[0].score == plain[0].similarity


def test_k_bounds(store):
    assert store.search("anything") == []  # nothing stored yet
    store.add_many([Memory(text) for text in DISTRACTORS[:3]])
    assert len(store.search("revenue", k=50)) == 3
    assert store.search("revenue", k=0) == []
    with pytest.raises(ValueError):
        store.search("revenue", k=-1)


def test_metadata_round_trips_exactly(store):
    metadata = {
        "none": None,
        "true": True,
        "false": False,
        "int": 42,
        "zero": 0,
        "big": 2**70,
        "float": 0.1,
        "whole_float": 3.0,
        "text": "Ünïcode — 日本語 ✓",
        "empty": "",
        "list": [1, "two", None],
        "nested": {"a": {"b": [True]}},
    }
    id = store.add(Memory("round trip", metadata=metadata))
    for got in (store.get(id).metadata, store.search("round trip", k=1)[0].memory.metadata, next(store.all()).metadata):
        assert got == metadata
        assert {key: type(value) for key, value in got.items()} == {key: type(value) for key, value in metadata.items()}


def test_created_at_default_and_explicit(store):
    before = datetime.now(timezone.utc)
    default = store.get(store.add(Memory("now")))
    assert before - timedelta(seconds=1) <= default.created_at <= datetime.now(timezone.utc)
    assert default.created_at.tzinfo is not None
    explicit = store.get(store.add(Memory("then", created_at=datetime(2026, 5, 7, 13, 56, 1, 123456))))
    assert explicit.created_at == datetime(2026, 5, 7, 13, 56, 1, 123456, tzinfo=timezone.utc)


def test_get_forget_delete_count(store):
    assert store.get("missing") is None and store.count() == 0
    assert store.forget("missing") is False and store.delete(["missing"]) == 0
    memory = Memory("keep me", kind="fact", session="s1", metadata={"k": 1})
    ids = store.add_many([memory, Memory("a"), Memory("b"), Memory("c", kind="summary")])
    assert store.get(memory.id) == dataclasses.replace(memory, namespace="default")
    assert store.count() == 4 and store.count("turn") == 2 and store.count("fact") == 1
    assert store.forget(ids[1]) is True and store.forget(ids[1]) is False
    assert store.delete([ids[2], ids[3], "missing"]) == 2
    assert store.count() == 1 and store.get(ids[2]) is None
    with pytest.raises(ValueError):
        store.count("note")


def test_adding_an_existing_id_replaces_it(store):
    first = Memory("old text", id="fixed")
    store.add(first)
    store.add_many([Memory("newer text", id="fixed"), Memory("newest text", id="fixed", kind="fact")])
    assert store.count() == 1 and store.get("fixed").text == "newest text"


def test_kind_filter(store):
    store.add_many([Memory(f"revenue note {kind}", kind=kind) for kind in ("turn", "artifact", "fact", "summary")])
    assert {hit.memory.kind for hit in store.search("revenue", k=10, kind="fact")} == {"fact"}
    assert {hit.memory.kind for hit in store.search("revenue", k=10, kind=["artifact", "summary"])} == {
        "artifact",
        "summary",
    }
    assert store.search("revenue", k=10, kind=[]) == []
    assert [memory.kind for memory in store.all(kind="turn")] == ["turn"]
    with pytest.raises(ValueError, match="unknown memory kind"):
        store.search("revenue", kind="note")


def test_session_filter(store):
    store.add_many([Memory("draft of the intro", session="q3"), Memory("draft of the outro", session="q4"), Memory("draft")])
    hits = store.search("draft", k=10, session="q3")
    assert [hit.memory.text for hit in hits] == ["draft of the intro"]
    assert hits[0].memory.session == "q3"


def test_where_filters_on_metadata(store):
    store.add_many(
        [
            Memory("one", metadata={"source": "chat", "n": 1, "ok": True}),
            Memory("two", metadata={"source": "file", "n": 2, "ok": False}),
            Memory("three", metadata={"source": "chat", "n": 3, "ok": True, "none": None}),
        ]
    )

    def texts(**kwargs):
        return sorted(hit.memory.text for hit in store.search("number", k=10, **kwargs))

    assert texts(where={"source": "chat"}) == ["one", "three"]
    assert texts(where={"n": {"$gte": 2}}) == ["three", "two"]
    assert texts(where={"source": "chat", "n": {"$lt": 3}}) == ["one"]
    assert texts(where={"$or": [{"n": 1}, {"ok": False}]}) == ["one", "two"]
    assert texts(where={"ok": True}, kind="turn") == ["one", "three"]
    with pytest.raises(ValueError, match="None"):
        store.search("number", where={"none": None})


def test_since_until(store):
    day = datetime(2026, 5, 1, tzinfo=timezone.utc)
    store.add_many([Memory(f"day {n}", created_at=day + timedelta(days=n)) for n in range(4)])
    hits = store.search("day", k=10, since=day + timedelta(days=1), until=day + timedelta(days=3))
    assert sorted(hit.memory.text for hit in hits) == ["day 1", "day 2"]


def test_all_pages_through_everything(store, monkeypatch):
    monkeypatch.setattr("memory.store.PAGE_SIZE", 3)
    ids = store.add_many([Memory(f"memory {n}", kind="fact" if n % 2 else "turn") for n in range(8)])
    assert sorted(memory.id for memory in store.all()) == sorted(ids)
    assert len(list(store.all(kind="fact"))) == 4


def test_writes_are_chunked_by_the_backend_batch_limit(make_store, fake_embedder, monkeypatch):
    store = make_store(embedder=fake_embedder)
    monkeypatch.setattr(store._client, "get_max_batch_size", lambda: 3)
    ids = store.add_many([Memory(f"memory number {n}") for n in range(10)])
    assert fake_embedder.batches == [3, 3, 3, 1]
    assert store.count() == 10 and len(set(ids)) == 10
    assert {hit.memory.id for hit in store.search("memory number", k=20)} == set(ids)


def test_stats(store, mode):
    store.add_many([Memory("a", kind="fact"), Memory("b", kind="fact"), Memory("c", kind="summary")])
    stats = store.stats()
    assert isinstance(stats, StoreStats)
    assert (stats.namespace, stats.count) == ("default", 3)
    assert stats.by_kind == {"artifact": 0, "fact": 2, "summary": 1, "turn": 0}
    if mode == "embedded":
        assert stats.size_bytes > 0
    else:
        assert stats.size_bytes is None


def test_namespaces_never_leak(make_store):
    alice, bob = make_store("alice"), make_store("bob")
    alice_ids = alice.add_many([Memory(ALICE, kind="fact", session="s"), Memory(DISTRACTORS[0])])
    bob_ids = bob.add_many([Memory(ALICE, kind="fact", session="s"), Memory(DISTRACTORS[1])])

    for store, own, other in ((alice, alice_ids, bob_ids), (bob, bob_ids, alice_ids)):
        found = {hit.memory.id for hit in store.search("how does Alice like her prose?", k=10)}
        assert found == set(own)
        assert {hit.memory.id for hit in store.search("x", k=10, kind="fact", session="s")} == {own[0]}
        assert all(store.get(id) is None for id in other)
        assert store.forget(other[0]) is False
        assert store.count() == 2 and {m.id for m in store.all()} == set(own)
    assert alice.namespaces() == bob.namespaces() == ["alice", "bob"]
    assert make_store("carol").search("Alice", k=10) == []


def test_memory_from_another_namespace_is_refused(make_store):
    memory = make_store("alice").get(make_store("alice").add(Memory("mine")))
    with pytest.raises(ValueError, match="namespace 'alice'"):
        make_store("bob").add(memory)


def test_export_import_round_trip(make_store, tmp_path):
    source = make_store("alice")
    originals = [
        Memory("a fact", kind="fact", metadata={"source": "chat", "n": None, "f": 1.5}, session="s1"),
        Memory("an artifact", kind="artifact", created_at=datetime(2025, 12, 31, 23, 59, 59, 999999)),
        Memory("ünïcode turn ✓", metadata={"nested": [1, {"a": True}]}),
        Memory("a summary", kind="summary", session="s2"),
    ]
    source.add_many(originals)
    path = tmp_path / "export.jsonl"
    assert source.export_jsonl(path) == 4
    assert len(path.read_text(encoding="utf-8").splitlines()) == 4

    target = make_store("alice-copy", fresh=True)
    assert target.import_jsonl(path) == 4
    assert target.import_jsonl(str(path)) == 4  # idempotent: same ids, upserted
    assert target.count() == 4
    expected = {m.id: dataclasses.replace(m, namespace="alice-copy") for m in originals}
    assert {m.id: m for m in target.all()} == expected
    assert target.search("a fact", k=1)[0].memory == expected[originals[0].id]

    buffer = io.StringIO()
    assert target.export_jsonl(buffer) == 4
    buffer.seek(0)
    assert make_store("third", fresh=True).import_jsonl(buffer) == 4


def test_import_names_the_bad_line(store, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 3"):
        store.import_jsonl(path)


def test_context_manager_closes(make_store):
    with make_store("ctx") as store:
        store.add(Memory("x"))
    with pytest.raises(ValueError, match="closed"):
        store.search("x")
    store.close()  # idempotent
    assert "ctx" in repr(store)


def test_path_or_url_is_required(tmp_path):
    with pytest.raises(ValueError):
        MemoryStore()
    with pytest.raises(ValueError):
        MemoryStore(tmp_path, url="http://127.0.0.1:8000")
    with pytest.raises(ValueError):
        MemoryStore(tmp_path, namespace="")
