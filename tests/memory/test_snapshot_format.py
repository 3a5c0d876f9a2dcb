"""The snapshot's columnar format (issue #14): a loaded mirror answers exactly as the one saved,
before and after further writes, and a damaged or foreign file is refused, never half-used."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from memory import snapshot
from memory.mirror import Mirror
from memory.records import Memory

START = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
WORDS = "budget report churn hiring travel revenue lisbon tokyo guitar marathon knee chart".split()


def _memories(n: int) -> list[Memory]:
    out = []
    for i in range(n):
        words = " ".join(WORDS[(i * j) % len(WORDS)] for j in range(1, 6))
        speaker = ["Alice", "Bob", None][i % 3]
        text = f"{speaker}: {words} ({i})" if speaker else f"{words} ({i})"
        meta = {"title": f"note {i}"} if i % 7 == 0 else {}
        out.append(Memory(text, id=f"m{i}", kind=["turn", "fact"][i % 2], session=[f"s{i % 4}", None][i % 5 == 0],
                          created_at=START + timedelta(minutes=(i * 37) % 500), metadata=meta))
    out.append(Memory("ok hi", id="stop-words-only"))
    return out


def _view(mirror: Mirror) -> dict:
    """Everything a search reads from a mirror."""
    queries = ["budget churn", "tokyo guitar report", "marathon", "nothing-matches"]
    rows = range(mirror.size)
    return {
        "rows": [m.to_dict() if m is not None else None for m in mirror.rows],
        "row_of": dict(mirror.row_of), "speaker": list(mirror.speaker), "speakers": dict(mirror.speakers),
        "sessions": {k: list(v) for k, v in mirror.sessions.items()}, "dead": mirror.dead, "len": len(mirror),
        "alive": mirror.alive.tolist(), "created": mirror.created.tolist(), "kinds": mirror.kinds.tolist(),
        "bm25": [mirror.lexical.scores(q, mirror.size).tolist() for q in queries],
        "information": [round(mirror.lexical.information(r), 9) for r in rows],
        "signature": [mirror.lexical.signature(r) for r in rows],
        "neighbours": [mirror.neighbours(r) for r in rows if mirror.rows[r] is not None],
    }


def _round_trip(tmp_path, mirror: Mirror, inode: int = 7, offset: int = 100) -> Mirror:
    path = tmp_path / "x.snapshot"
    snapshot.save(path, mirror, inode, offset)
    loaded = snapshot.load(path, inode, offset)
    assert loaded is not None and loaded[1] == offset
    return loaded[0]


def _built(tmp_path) -> tuple[Mirror, Mirror]:
    original = Mirror(_memories(300))
    original.lexical.build()
    for i in (3, 50, 51):
        original.delete(f"m{i}")
    original.put(Memory("Alice: a late budget line about tokyo", id="late", session="s1", created_at=START))
    original.put(Memory("Bob: the replaced m10 now says guitar", id="m10", session="s2",
                        created_at=START + timedelta(hours=1)))
    return original, _round_trip(tmp_path, original)


def test_a_loaded_mirror_answers_as_the_saved_one(tmp_path):
    original, loaded = _built(tmp_path)
    assert _view(loaded) == _view(original)


def test_a_loaded_mirror_takes_writes_as_the_saved_one_does(tmp_path):
    original, loaded = _built(tmp_path)
    for mirror in (original, loaded):
        mirror.put(Memory("Caroline: marathon training with a sore knee", id="new", session="s3", created_at=START))
        mirror.put(Memory("the budget churn report, rewritten", id="m20", session="s0", created_at=START))
        mirror.delete("m21")
        for i in range(2000):  # enough rows to grow the arrays past the saved capacity and merge segments
            mirror.put(Memory(f"filler {WORDS[i % len(WORDS)]} line {i}", id=f"f{i}", session="s9",
                              created_at=START + timedelta(seconds=i)))
        mirror.lexical.build()
    assert _view(loaded) == _view(original)
    assert _view(_round_trip(tmp_path, loaded)) == _view(original)  # and saved again from a loaded one


def test_a_snapshot_for_another_journal_or_offset_is_refused(tmp_path):
    path = tmp_path / "x.snapshot"
    snapshot.save(path, Mirror(_memories(20)), 7, 100)
    assert snapshot.load(path, 8, 100) is None    # another journal file (a compaction, a repair)
    assert snapshot.load(path, 7, 99) is None     # the journal is shorter than the snapshot's offset
    assert snapshot.load(path, 7, 5000) is not None


@pytest.mark.parametrize("damage", ["flip", "truncate", "extend", "header", "garbage", "pickle"])
def test_a_damaged_snapshot_is_refused(tmp_path, damage):
    path = tmp_path / "x.snapshot"
    snapshot.save(path, Mirror(_memories(50)), 7, 100)
    data = bytearray(path.read_bytes())
    if damage == "flip":       # one byte of a memory's text: would be a wrong result if used
        at = data.rindex(b"(4") + 1
        data[at] ^= 0x01
    elif damage == "truncate":
        data = data[: len(data) - 10]
    elif damage == "extend":
        data += b"\0" * 64
    elif damage == "header":
        data = data.replace(b'"inode": 7', b'"inode": 7.5', 1)
    elif damage == "garbage":
        data = bytearray(b"garbage")
    else:                      # the previous (pickle) format
        import pickle

        data = bytearray(pickle.dumps({"format": 1, "inode": 7, "offset": 100}) + pickle.dumps([1, 2]))
    path.write_bytes(bytes(data))
    assert snapshot.load(path, 7, 100) is None


def test_a_mirror_with_fields_the_format_does_not_know_is_not_saved(tmp_path):
    mirror = Mirror(_memories(10))
    mirror.new_field = np.zeros(3)  # as a newer Mirror would carry
    path = tmp_path / "x.snapshot"
    snapshot.save(path, mirror, 7, 100)
    assert not path.exists()
