"""The mirror + BM25 snapshot (issue #14): a reopened store searches from it instead of rebuilding
from the journal, sees every write made after it, and ignores a snapshot that does not fit."""

from __future__ import annotations

from memory import Memory, MemoryStore
from memory import mirror as mirror_module
from memory.embedded import journal_path
from memory.journal import Journal

TEXTS = [f"entry {i}: the {w} report mentions {w} figures" for i, w in
         enumerate(["sales", "revenue", "churn", "hiring", "budget", "travel"] * 5)]


def _ids(hits):
    return [h.memory.id for h in hits]


def _open(path, embedder):
    return MemoryStore(path, namespace="alice", embedder=embedder)


def test_a_reopened_store_searches_from_its_snapshot_and_sees_later_writes(tmp_path, fake_embedder, monkeypatch):
    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
        store.warm()
        expected = _ids(store.search("churn figures", k=5))
    snapshot = journal_path(path.resolve(), "alice").with_suffix(".snapshot")
    assert snapshot.exists()

    with _open(path, fake_embedder) as store:  # a later process writes without rewriting the snapshot
        added = store.add(Memory("the zebra budget was approved", kind="fact"))
        gone = store.search("churn figures", k=1)[0].memory.id
        store.forget(gone)

    put = []
    original = mirror_module.Mirror.put
    monkeypatch.setattr(mirror_module.Mirror, "put", lambda self, m: (put.append(m.id), original(self, m))[1])
    with _open(path, fake_embedder) as store:
        assert store.search("zebra budget", k=1)[0].memory.id == added
        found = _ids(store.search("churn figures", k=30))
        assert gone not in found and set(expected) - {gone} <= set(found)
        assert store._sync._snapshot_offset is not None
    assert put == [added]  # only the write made after the snapshot: no mirror was rebuilt from the journal


def test_a_snapshot_that_does_not_fit_is_ignored(tmp_path, fake_embedder):
    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        ids = store.add_many([Memory(t, kind="fact") for t in TEXTS])
        store.warm()
    journal = Journal(journal_path(path.resolve(), "alice"))
    journal.rewrite(journal.read(0).records)  # as a compaction does: the same records in a new file
    with _open(path, fake_embedder) as store:
        assert store.search("budget figures", k=3)
        assert store._sync._snapshot_offset is None  # rebuilt from the journal
    snapshot = journal.path.with_suffix(".snapshot")
    snapshot.write_bytes(b"garbage")
    with _open(path, fake_embedder) as store:
        assert sorted(m.id for m in store._sync.ensure_mirror().live()) == sorted(ids)


def test_warm_runs_the_query_path_so_the_first_search_does_not(tmp_path, fake_embedder):
    """warm() leaves the first search nothing to load: it searched once (the embedder asked for a
    query vector, Chroma asked for neighbours) while the caller did other start-up work."""
    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
    with _open(path, fake_embedder) as store:
        asked = []
        original = fake_embedder.embed
        fake_embedder.embed = lambda texts: (asked.append(list(texts)), original(texts))[1]
        store.warm()
        assert asked == [["warm up the search"]]
        assert store._sync.mirror is not None and store._sync.mirror.lexical.pending == 0


def test_opening_a_store_loads_its_vector_index_in_the_background(tmp_path, fake_embedder, monkeypatch):
    """Chroma reads a collection's whole vector index on its first use (~1.5 s at 100k): opening
    starts that in a thread, so the caller's first search does not begin it."""
    import threading

    from memory import chroma_backend

    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
    calls = []
    original = chroma_backend.open_collection

    def recording(*args, **kwargs):
        collection = original(*args, **kwargs)
        if collection is not None:
            count = collection.count
            monkeypatch.setattr(collection, "count", lambda: (calls.append(threading.current_thread().name), count())[1])
        return collection

    monkeypatch.setattr(chroma_backend, "open_collection", recording)
    with _open(path, fake_embedder) as store:
        store._index_load.join()
        assert calls == ["throughline-vector-index"]  # before any call of ours
        assert store.search("churn figures", k=1)


def test_the_first_search_compiles_no_time_patterns(tmp_path, fake_embedder):
    """The time phrases' regular expressions (~20-80 ms to compile) are compiled in the
    background while Chroma opens, not by the first search."""
    from memory import timeparse

    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
    timeparse.compiled.cache_clear()
    with _open(path, fake_embedder) as store:
        store._sync._prefetch._thread.join()
        compiled = timeparse.compiled.cache_info().misses
        assert compiled > 0
        store.search("the churn figures from last week", k=3)
        assert timeparse.compiled.cache_info().misses == compiled
