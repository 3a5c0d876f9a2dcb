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
    monkeypatch.setattr(mirror_module.Mirror, "put", lambda self, m, v=None: (put.append(m.id), original(self, m, v))[1])
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


def test_warm_loads_the_mirror_and_the_embedder_so_the_first_search_does_not(tmp_path, fake_embedder):
    """warm() leaves the first search nothing to load: the mirror and BM25 index built, the
    embedder asked once, while the caller did other start-up work."""
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


def _chroma_calls(monkeypatch):
    """(thread, method) of each call of the collection's `get`, `count` and `query`."""
    import threading

    from memory import chroma_backend

    calls = []
    original = chroma_backend.open_collection

    def recording(*args, **kwargs):
        collection = original(*args, **kwargs)
        if collection is not None:
            for name in ("get", "count", "query"):
                method = getattr(collection, name)

                def recorded(*a, _name=name, _method=method, **kw):
                    calls.append((threading.current_thread().name, _name))
                    return _method(*a, **kw)

                monkeypatch.setattr(collection, name, recorded)
        return collection

    monkeypatch.setattr(chroma_backend, "open_collection", recording)
    return calls


def test_without_a_copy_of_the_vectors_opening_has_chroma_read_its_index_in_the_background(
        tmp_path, fake_embedder, monkeypatch):
    """Chroma reads a collection's whole vector index on its first use (~0.3-2 s at 100k). When
    searches must ask Chroma (here: a snapshot saved without vectors, as earlier versions did, and
    no vector log), opening starts that read in a thread, with `get`, which leaves the interpreter
    lock (`count` held it), so the caller's first search neither begins it nor stalls behind it."""
    from memory import snapshot_columns

    path = tmp_path / "mem"
    encode = snapshot_columns.encode

    def without_vectors(mirror):
        arrays, values = encode(mirror)
        arrays.pop("vectors")
        return arrays, values

    monkeypatch.setattr(snapshot_columns, "encode", without_vectors)
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
        store.warm()
    monkeypatch.setattr(snapshot_columns, "encode", encode)
    journal_path(path.resolve(), "alice").with_suffix(".vectors").unlink()
    calls = _chroma_calls(monkeypatch)
    with _open(path, fake_embedder) as store:
        store._index_load.join()
        assert calls[:2] == [("throughline-search-index", "get"), ("throughline-search-index", "count")]
        assert store.search("churn figures", k=1)


def test_with_a_copy_of_the_vectors_opening_and_searching_never_read_chroma_s_index(tmp_path, fake_embedder,
                                                                                      monkeypatch):
    """Every vector is in the mirror's copy: a reader process leaves Chroma's index unread (the
    read would take the CPU from its first search); `warm()` reads it, for the writes to come."""
    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
        expected = _ids(store.search("churn figures", k=3))
    calls = _chroma_calls(monkeypatch)
    with _open(path, fake_embedder) as store:
        store._index_load.join()
        assert _ids(store.search("churn figures", k=3)) == expected
        assert calls == []
        store.warm()
        assert ("MainThread", "count") in calls


def test_the_first_search_compiles_no_time_patterns(tmp_path, fake_embedder):
    """The time phrases' regular expressions (~20-80 ms to compile) are compiled in the
    background while Chroma opens, not by the first search."""
    from memory import timeparse

    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
    timeparse.compiled.cache_clear()
    with _open(path, fake_embedder) as store:
        store._index_load.join()  # it takes the snapshot's prefetch, whose thread compiles the patterns
        compiled = timeparse.compiled.cache_info().misses
        assert compiled > 0
        store.search("the churn figures from last week", k=3)
        assert timeparse.compiled.cache_info().misses == compiled


def test_a_search_runs_beside_warm_while_chroma_reads_its_vector_index(tmp_path, fake_embedder, monkeypatch):
    """warm() has Chroma read its index (seconds at 100k) holding only the file lock: a search over
    the mirror's copy of the vectors does not wait for it."""
    import threading

    from memory import chroma_backend

    path = tmp_path / "mem"
    with _open(path, fake_embedder) as store:
        store.add_many([Memory(t, kind="fact") for t in TEXTS])
        expected = _ids(store.search("churn figures", k=3))
    reading, release = threading.Event(), threading.Event()
    original = chroma_backend.open_collection

    def slow_first_read(*args, **kwargs):
        collection = original(*args, **kwargs)
        if collection is not None:
            get = collection.get

            def getting(*a, **kw):
                if kw.get("limit") == 1 and not reading.is_set():
                    reading.set()
                    release.wait(10)
                return get(*a, **kw)

            monkeypatch.setattr(collection, "get", getting)
        return collection

    monkeypatch.setattr(chroma_backend, "open_collection", slow_first_read)
    with _open(path, fake_embedder) as store:
        warming = threading.Thread(target=store.warm)
        warming.start()
        try:
            assert reading.wait(10)
            assert _ids(store.search("churn figures", k=3)) == expected
            assert not release.is_set() and warming.is_alive()
        finally:
            release.set()
            warming.join()
