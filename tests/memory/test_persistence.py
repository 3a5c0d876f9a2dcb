"""Embedded mode across processes: memories survive the process, other processes' writes are
seen, and the write lock turns contention into StoreBusy."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from memory import Memory, MemoryStore, StoreBusy

FAKES = Path(__file__).with_name("memory_fakes.py")


def run_child(body: str) -> str:
    """Run `body` in a fresh interpreter with `HashEmbedder` and the memory API in scope."""
    prelude = f"import runpy\nHashEmbedder = runpy.run_path({str(FAKES)!r})['HashEmbedder']\nfrom memory import *\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(body)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_memory_survives_the_process(tmp_path, fake_embedder):
    path = tmp_path / "mem"
    run_child(
        f"""
        import os
        from datetime import datetime
        store = MemoryStore({str(path)!r}, namespace="alice", embedder=HashEmbedder())
        store.add(Memory("alice prefers short sentences", kind="fact", id="m1", session="s",
                         metadata={{"source": "chat", "n": None}}, created_at=datetime(2026, 5, 7)))
        os._exit(0)  # no close(), no atexit hooks: what was added must already be on disk
        """
    )
    found = json.loads(
        run_child(
            f"""
            import json
            store = MemoryStore({str(path)!r}, namespace="alice", embedder=HashEmbedder())
            print(json.dumps([hit.memory.to_dict() for hit in store.search("short sentences", k=3)]))
            """
        )
    )
    assert [(hit["id"], hit["metadata"], hit["created_at"]) for hit in found] == [
        ("m1", {"source": "chat", "n": None}, "2026-05-07T00:00:00+00:00")
    ]
    with MemoryStore(path, namespace="alice", embedder=fake_embedder) as store:
        assert store.get("m1").session == "s"


def test_an_open_store_sees_another_process_writes(tmp_path, fake_embedder):
    path = tmp_path / "mem"
    with MemoryStore(path, namespace="shared", embedder=fake_embedder) as store:
        store.add(Memory("written here", id="here"))
        run_child(
            f"""
            store = MemoryStore({str(path)!r}, namespace="shared", embedder=HashEmbedder())
            store.add(Memory("written there", id="there"))
            assert store.count() == 2
            """
        )
        assert store.count() == 2
        assert {hit.memory.id for hit in store.search("written", k=5)} == {"here", "there"}


def test_a_held_lock_gives_store_busy(tmp_path, fake_embedder, monkeypatch):
    path = tmp_path / "mem"
    store = MemoryStore(path, namespace="busy", embedder=fake_embedder, lock_timeout=0.3)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from filelock import FileLock; import sys, time\n"
            f"with FileLock({str(path / '.lock')!r}):\n    print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="--memory-url"):
            store.add(Memory("blocked"))
        assert time.monotonic() - started < 5
        with pytest.raises(StoreBusy, match="--memory-url"):
            store.search("blocked")  # reads take turns too: embedded Chroma is not safe for concurrent readers
    finally:
        holder.kill()
        holder.wait()
    store.add(Memory("after"))
    assert store.count() == 1
    store.close()


def test_warm_builds_the_search_index_a_reopened_store_would_build_on_its_first_search(tmp_path, embedder):
    with MemoryStore(tmp_path / "m", embedder=embedder) as store:
        store.add_many([Memory(f"note {i} about the greenhouse budget") for i in range(50)])
    reopened = MemoryStore(tmp_path / "m", embedder=embedder)
    reopened.warm()
    lexical = reopened._mirror().lexical
    assert lexical.pending == 0 and reopened._mirror().size == 50
    assert reopened.search("greenhouse budget note 7", k=1)[0].memory.text == "note 7 about the greenhouse budget"
    reopened.close()


def test_text_is_kept_as_metadata_and_stores_that_kept_it_as_documents_still_read(tmp_path, embedder):
    from memory import chroma_backend as backend

    path = tmp_path / "m"
    with MemoryStore(path, embedder=embedder) as store:
        new = store.add(Memory("The shed door is painted blue.", kind="fact"))
        collection = store._collection(create=False)
        raw = collection.get(ids=[new], include=["documents", "metadatas"])
        assert raw["documents"] == [None]  # no document: Chroma's full-text index is not paid for
        assert raw["metadatas"][0][backend.TEXT] == "The shed door is painted blue."
        # a record as stores before this change wrote it: text as the document, no tl.text
        old = Memory("The greenhouse budget is 300 euros.", kind="fact", session="garden")
        meta = backend.encode(old)
        del meta[backend.TEXT]
        collection.upsert(ids=[old.id], embeddings=embedder.embed([old.text]), documents=[old.text], metadatas=[meta])
    with MemoryStore(path, embedder=embedder) as store:  # reopened: the old record is adopted as it is
        store.warm()  # (by the count check, at warm-up or the first write: a search alone reads the journal's copy)
        assert store.get(old.id).text == old.text and store.get(new).text == "The shed door is painted blue."
        assert store.search("greenhouse budget", k=1)[0].memory.text == old.text
        assert store.search("greenhouse budget", k=1, mode="vector")[0].memory.text == old.text
        assert sorted(m.text for m in store.all()) == sorted([old.text, "The shed door is painted blue."])
