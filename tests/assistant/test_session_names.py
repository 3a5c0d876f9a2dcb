"""Users and sessions never share files on disk, whatever their names; dirs written under the old
lossy names are migrated to their owners (issue #14)."""

from __future__ import annotations

import json

import pytest

from assistant.sessions import SessionStore, TurnRecord


def _save_turn(data_dir, user, session, text):
    store = SessionStore(data_dir, user)
    thread = store.load(session)
    thread.turns.append(TurnRecord(request=text, reply="ok", route="chat"))
    store.save(thread)
    return store


@pytest.mark.parametrize("first, second", [
    ("bob smith", "bob_smith"),
    ("Иван", "Пётр"),
    ("x" * 70 + "a", "x" * 70 + "b"),
])
def test_distinct_users_never_read_each_others_threads(tmp_path, first, second):
    _save_turn(tmp_path, first, "work", f"secret of {first}")
    other = SessionStore(tmp_path, second)
    assert other.load("work").turns == []
    assert other.workspace("work") != SessionStore(tmp_path, first).workspace("work")
    assert [t.request for t in SessionStore(tmp_path, first).load("work").turns] == [f"secret of {first}"]


@pytest.mark.parametrize("first, second", [("q3 report", "q3_report"), ("草稿", "笔记"), ("s" * 80 + "1", "s" * 80 + "2")])
def test_distinct_sessions_of_one_user_never_share_a_file(tmp_path, first, second):
    store = _save_turn(tmp_path, "alice", first, "one")
    assert store.load(second).turns == []
    _save_turn(tmp_path, "alice", second, "two")
    assert sorted(s.name for s in store.list()) == sorted([first, second])


def test_old_lossy_dirs_are_migrated_to_their_owner(tmp_path):
    old_space = tmp_path / "workspaces" / "bob_smith" / "q3_report" / "artifacts"
    old_space.mkdir(parents=True)
    (old_space / "intro-v1-abc123.md").write_text("the intro")
    old_sessions = tmp_path / "sessions" / "bob_smith"
    old_sessions.mkdir(parents=True)
    (old_sessions / "q3_report.json").write_text(json.dumps({
        "name": "q3 report", "user": "bob smith",
        "turns": [{"request": "draft the intro", "reply": "done", "route": "writing"}],
        "artifacts": [{"id": "abc123abc123", "kind": "draft", "title": "intro", "route": "writing",
                       "path": str(old_space / "intro-v1-abc123.md"), "content": "the intro",
                       "created_at": "2026-01-01T00:00:00+00:00", "version": 1}],
    }))
    assert SessionStore(tmp_path, "bob_smith").load("q3 report").turns == []  # not this user's file
    store = SessionStore(tmp_path, "bob smith")
    thread = store.load("q3 report")
    assert [t.request for t in thread.turns] == ["draft the intro"]
    moved = thread.artifacts[0].path
    assert moved.startswith(str(store.workspaces)) and open(moved).read() == "the intro"
    assert not (old_sessions / "q3_report.json").exists()


def test_listing_sessions_reads_each_record_once(tmp_path, monkeypatch):
    """The session picker lists every thread: one read per file, not one for the name and another
    for the record (a user with hundreds of threads waited twice)."""
    for name in ("draft", "script", "numbers"):
        _save_turn(tmp_path, "alice", name, f"about {name}")
    reads = []
    original = type(tmp_path).read_text

    def counting(path, *args, **kwargs):
        reads.append(path.name)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(type(tmp_path), "read_text", counting)
    listed = SessionStore(tmp_path, "alice").list()
    assert sorted(s.name for s in listed) == ["draft", "numbers", "script"]
    assert all(s.turns for s in listed)
    assert len(reads) == 3
