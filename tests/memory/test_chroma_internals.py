"""What `memory.doctor` and `memory.chroma_backend` read of Chroma's own sqlite database, checked
on the installed Chroma: this fails on a Chroma version whose internal tables differ (issue #14)."""

from __future__ import annotations

import sqlite3

import chromadb
from packaging.version import Version

from memory import Memory, MemoryStore, doctor

# The tables and columns our code (or Chroma's own behaviour we rely on) reads.
READ = {"collections": {"id", "name"}, "embeddings": {"id", "segment_id", "embedding_id"}}


def test_the_installed_chroma_has_the_tables_we_read(tmp_path, fake_embedder):
    path = tmp_path / "mem"
    with MemoryStore(path, namespace="alice", embedder=fake_embedder) as store:
        store.add(Memory("a fact", kind="fact"))
    con = sqlite3.connect(path / "chroma.sqlite3")
    try:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table, columns in READ.items():
            assert table in tables, f"chromadb {chromadb.__version__} has no table {table!r}: check memory.doctor"
            have = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
            assert columns <= have, f"chromadb {chromadb.__version__}: {table} lacks {columns - have}"
    finally:
        con.close()
    assert doctor(path).healthy  # and doctor's own check agrees on this version


def test_the_installed_chroma_is_inside_the_bounds_this_was_checked_for():
    assert Version("1.0") <= Version(chromadb.__version__) < Version("1.6")
