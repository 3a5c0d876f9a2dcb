"""The mirror's copy of the vectors (issue #14: the first search at 100k should cost what later
ones do): a reopened store ranks over it exactly, without Chroma reading its vector index, and
the copy follows every write, its own process's and others', or is not used."""

from __future__ import annotations

import pytest

from memory import Memory, MemoryStore
from memory.embedded import journal_path
from memory.vector_copy import VectorLog

from tests.memory.test_snapshot import TEXTS


def _open(path, embedder):
    return MemoryStore(path, namespace="alice", embedder=embedder)


def _ranking(hits):
    """The first hit and every hit's cosine in order: memories tied on cosine may be ranked
    apart by Chroma and by the copy (which makes the scores after them differ slightly)."""
    return hits[0].memory.id, [round(h.similarity, 5) for h in hits]


def _refuse_chroma_queries(store, monkeypatch):
    """Chroma's vector search fails from now on: a search that still answers did not use it."""
    def refuse(*args, **kwargs):
        raise AssertionError("the search asked Chroma for neighbours")

    monkeypatch.setattr(store._collection(create=False), "query", refuse)


QUERIES = ["churn figures", "the budget report", "what mentions hiring?", "travel and sales"]
# distinct words, so no two memories tie on cosine (Chroma and the copy may break ties apart)
VARIED = [f"{who} {did} the {what} {when}" for who, did, what, when in zip(
    ["Ana", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lu"],
    ["drafted", "reviewed", "cut", "raised", "audited", "filed", "moved", "signed", "shared", "booked", "paid", "sent"],
    ["churn figures", "budget report", "hiring plan", "travel costs", "sales deck", "revenue table",
     "office lease", "travel budget", "hiring report", "sales figures", "churn plan", "revenue report"],
    ["today", "on Monday", "last week", "in May", "yesterday", "at noon", "in June", "on Friday",
     "this morning", "in spring", "tonight", "in April"])]


def test_a_reopened_store_ranks_over_its_copy_as_chroma_would(
        tmp_path, fake_embedder, monkeypatch):
    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact", metadata={"source": "notes"}) for t in VARIED])
        expected = {q: _ranking(store.search(q, k=8, where={"source": "notes"})) for q in QUERIES}  # Chroma's path
    with _open(path, fake_embedder) as store:
        store._index_load.join()
        _refuse_chroma_queries(store, monkeypatch)
        assert {q: _ranking(store.search(q, k=8)) for q in QUERIES} == expected


def test_writes_after_the_snapshot_reach_the_copy_from_this_process_and_from_others(tmp_path, fake_embedder, monkeypatch):
    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
    reader = _open(path, fake_embedder)
    reader._index_load.join()
    try:
        with _open(path, fake_embedder) as writer:  # another process's write, after the snapshot
            added = writer.add(Memory("the zebra budget was approved", kind="fact"))
        own = reader.add(Memory("a quokka joined the hiring panel", kind="fact"))
        _refuse_chroma_queries(reader, monkeypatch)
        assert reader.search("zebra budget approved", k=1)[0].memory.id == added
        assert reader.search("quokka hiring panel", k=1)[0].memory.id == own
        assert reader._sync.mirror.vectors.missing(reader._sync.mirror.alive) == []
    finally:
        reader.close()

    with _open(path, fake_embedder) as store:  # a new process: both from the writers' vector log
        _refuse_chroma_queries(store, monkeypatch)
        assert store.search("zebra budget approved", k=1)[0].memory.id == added
        assert store._sync.mirror.vectors.missing(store._sync.mirror.alive) == []


def test_a_logged_vector_is_not_used_for_a_memory_replaced_since(tmp_path, fake_embedder):
    """The log ties each vector to the text it embedded: a memory replaced under the same id by a
    writer that logged nothing gets no stale vector."""
    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
    with _open(path, fake_embedder) as store:
        id = store.add(Memory("the zebra budget was approved", kind="fact"))
    log = VectorLog(journal_path(path.resolve(), "alice").with_suffix(".vectors"))
    crc, vector = log.read()[id]
    replaced = Memory("the walrus budget was rejected", kind="fact", id=id)
    from memory.vector_copy import text_crc
    assert crc != text_crc(replaced)

    with _open(path, fake_embedder) as store:
        store.add(replaced)  # logged again: the latest entry carries the new text's crc
        assert log.read()[id][0] == text_crc(replaced)


def test_a_torn_vector_log_keeps_its_whole_entries(tmp_path, fake_embedder):
    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
    with _open(path, fake_embedder) as store:
        first = store.add(Memory("the zebra budget was approved", kind="fact"))
        second = store.add(Memory("a quokka joined the hiring panel", kind="fact"))
    file = journal_path(path.resolve(), "alice").with_suffix(".vectors")
    file.write_bytes(file.read_bytes()[:-7])  # a crash mid-append
    logged = VectorLog(file).read()
    assert first in logged and second not in logged and len(logged) == len(TEXTS) + 1
    with _open(path, fake_embedder) as store:  # the torn row is embedded again: the search still answers
        assert store.search("quokka hiring panel", k=1)[0].memory.id == second


def test_a_snapshot_saved_without_vectors_gets_them_from_chroma_when_saved_again(tmp_path, fake_embedder, monkeypatch):
    """Stores saved by older code: the next warm-up fetches the vectors from Chroma (once) and
    saves them, so the process after it searches without Chroma's index."""
    from memory import snapshot_columns

    path = tmp_path / "mem"
    encode = snapshot_columns.encode

    def without_vectors(mirror):
        arrays, values = encode(mirror)
        arrays.pop("vectors", None)
        return arrays, values

    monkeypatch.setattr(snapshot_columns, "encode", without_vectors)
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
    monkeypatch.setattr(snapshot_columns, "encode", encode)
    journal_path(path.resolve(), "alice").with_suffix(".vectors").unlink()
    with _open(path, fake_embedder) as store:
        assert store._sync._snapshot_vectors is False
        store.warm()
        assert store._sync._snapshot_vectors is True
    with _open(path, fake_embedder) as store:
        _refuse_chroma_queries(store, monkeypatch)
        assert store.search("churn figures", k=3)


@pytest.mark.parametrize("extra", [1, 40])
def test_rows_without_a_vector_are_embedded_when_few_and_asked_of_chroma_when_many(tmp_path, fake_embedder, extra):
    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
        store.warm()  # saves the snapshot: the writes below are its tail
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(f"note {i} about the quokka panel", kind="fact") for i in range(extra)])
    journal_path(path.resolve(), "alice").with_suffix(".vectors").unlink()  # lost: never fsync'd
    with _open(path, fake_embedder) as store:
        store._index_load.join()
        copy = store._searchable_copy()
        assert (copy is not None) == (extra <= 16)
        assert "quokka" in store.search("quokka panel", k=1)[0].memory.text


def test_the_copy_ranks_saved_and_later_rows_alike_and_marks_rows_without_a_vector():
    import numpy as np

    from memory.vector_copy import VectorCopy

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    copy = VectorCopy(vectors[:1000].copy())  # as loaded from a snapshot of 1000 rows
    for row in range(1000, 3000):
        if row != 2500:  # one row whose vector is unknown
            copy.set(row, vectors[row])
    queries = vectors[[3, 1500]]
    got = copy.similarities(queries, 3000)
    expected = vectors @ queries.T
    assert np.isnan(got[2500]).all()
    got[2500] = expected[2500]
    assert np.allclose(got, expected, atol=1e-6)
    alive = np.ones(3000, dtype=bool)
    assert copy.missing(alive) == [2500]
    dense = copy.dense(3000)
    assert np.allclose(np.delete(dense, 2500, axis=0), np.delete(vectors, 2500, axis=0)) and not dense[2500].any()
