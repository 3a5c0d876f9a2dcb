"""Failures become memory.errors with one-line messages that say what to do."""

from __future__ import annotations

import sqlite3
import time

import pytest

from memory import Memory, MemoryStore, StoreCorrupt, StoreUnavailable


def test_path_that_is_a_file(tmp_path, fake_embedder):
    path = tmp_path / "mem"
    path.write_text("not a store")
    with pytest.raises(StoreCorrupt, match=r"is a file.*move it aside"):
        MemoryStore(path, embedder=fake_embedder)


def test_path_that_cannot_be_created(tmp_path, fake_embedder):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreUnavailable, match=r"cannot write the memory dir .*file/mem.*--data-dir") as info:
        MemoryStore(tmp_path / "file" / "mem", embedder=fake_embedder)
    assert "\n" not in str(info.value)


def test_dir_with_a_corrupt_database(tmp_path, fake_embedder):
    (tmp_path / "chroma.sqlite3").write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreCorrupt, match="move its dir aside"):
        MemoryStore(tmp_path, embedder=fake_embedder)


def test_dir_with_someone_elses_database(tmp_path, fake_embedder):
    db = sqlite3.connect(tmp_path / "chroma.sqlite3")
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreCorrupt, match="not a Chroma memory store"):
        MemoryStore(tmp_path, embedder=fake_embedder)


def test_unreachable_server_fails_fast(fake_embedder):
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"http://127\.0\.0\.1:9.*chroma run") as info:
        MemoryStore(url="http://127.0.0.1:9", embedder=fake_embedder)
    assert time.monotonic() - started < 5
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("url", ["ftp://host:1", "http://", "http://host:8000/some/path"])
def test_malformed_url(url, fake_embedder):
    with pytest.raises(ValueError):
        MemoryStore(url=url, embedder=fake_embedder)


@pytest.mark.server
def test_server_going_away(disposable_server, fake_embedder):
    store = MemoryStore(url=disposable_server.url, namespace="gone", embedder=fake_embedder)
    store.add(Memory("before"))
    disposable_server.stop()
    with pytest.raises(StoreUnavailable, match="chroma run"):
        store.search("before")
    with pytest.raises(StoreUnavailable):
        store.add(Memory("after"))
