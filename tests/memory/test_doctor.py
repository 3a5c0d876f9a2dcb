"""`doctor` finds what is wrong with a data dir and `repair=True` fixes it without losing memories."""

from __future__ import annotations

import pytest

from memory import Memory, MemoryStore, StoreCorrupt, doctor
from memory.embedded import journal_path

TEXTS = ["alice prefers short sentences", "the q3 report is due friday", "revenue grew twelve percent"]


def _fill(path, embedder, namespaces=("alice", "bob")):
    ids = {}
    for ns in namespaces:
        with MemoryStore(path, namespace=ns, embedder=embedder) as store:
            ids[ns] = store.add_many([Memory(f"{ns}: {t}", kind="fact") for t in TEXTS])
    return ids


def test_a_healthy_store(tmp_path, fake_embedder):
    _fill(tmp_path / "mem", fake_embedder)
    report = doctor(tmp_path / "mem")
    assert report.healthy and report.problems == ()
    assert report.namespaces == {"alice": 3, "bob": 3}
    assert "healthy" in str(report)
    missing = doctor(tmp_path / "nothing-here")  # a missing store is said to be missing, not "healthy"
    assert not missing.healthy and missing.condition == "missing" and "no memory store" in str(missing)


def test_a_corrupt_database_is_moved_aside_and_rebuilt(tmp_path, fake_embedder):
    path = tmp_path / "mem"
    ids = _fill(path, fake_embedder)
    db = path / "chroma.sqlite3"
    with open(db, "r+b") as fp:
        fp.write(b"this is not sqlite" * 10)
    with pytest.raises(StoreCorrupt, match="memory doctor --repair"):
        MemoryStore(path, namespace="alice", embedder=fake_embedder)

    report = doctor(path)
    assert not report.healthy and "not a readable database" in " ".join(report.problems)
    assert "--repair" in str(report)

    fixed = doctor(path, repair=True, embedder=fake_embedder)
    assert fixed.healthy, fixed
    assert fixed.moved_to is not None and (fixed.moved_to / "chroma.sqlite3").exists()  # nothing deleted
    for ns in ("alice", "bob"):
        with MemoryStore(path, namespace=ns, embedder=fake_embedder) as store:
            assert sorted(m.id for m in store.all()) == sorted(ids[ns])
            assert store.search(f"{ns} revenue twelve", k=1)[0].memory.text.endswith("revenue grew twelve percent")


def test_a_torn_journal_tail_is_reported_and_cut(tmp_path, fake_embedder):
    path = tmp_path / "mem"
    ids = _fill(path, fake_embedder, ["alice"])
    journal = journal_path(path.resolve(), "alice")
    with open(journal, "ab") as fp:
        fp.write(b'{"op":"put","m":{"text":"half a wri')
    with MemoryStore(path, namespace="alice", embedder=fake_embedder) as store:  # opening still works
        assert store.count() == 3
    assert "torn record" in " ".join(doctor(path).problems)
    assert doctor(path, repair=True, embedder=fake_embedder).healthy
    assert journal.read_bytes().endswith(b"\n")
    with MemoryStore(path, namespace="alice", embedder=fake_embedder) as store:
        assert sorted(m.id for m in store.all()) == sorted(ids["alice"])


def test_chroma_missing_journaled_memories_is_reconciled(tmp_path, fake_embedder):
    path = tmp_path / "mem"
    ids = _fill(path, fake_embedder, ["alice"])
    with MemoryStore(path, namespace="alice", embedder=fake_embedder) as store:
        store._collection(create=False).delete(ids=[ids["alice"][0]])  # behind the journal's back
    report = doctor(path)
    assert "missing from Chroma" in " ".join(report.problems)
    assert doctor(path, repair=True, embedder=fake_embedder).healthy
    with MemoryStore(path, namespace="alice", embedder=fake_embedder) as store:
        assert store.get(ids["alice"][0]) is not None


def test_a_store_from_before_journals_is_adopted(tmp_path, fake_embedder):
    path = tmp_path / "mem"
    ids = _fill(path, fake_embedder, ["alice"])
    journal = journal_path(path.resolve(), "alice")
    journal.unlink()
    journal.with_suffix(".ckpt").unlink(missing_ok=True)
    with MemoryStore(path, namespace="alice", embedder=fake_embedder) as store:
        assert sorted(m.id for m in store.all()) == sorted(ids["alice"])
    assert journal.exists()
    assert doctor(path).healthy
