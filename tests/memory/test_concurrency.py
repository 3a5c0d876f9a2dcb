"""Two real processes writing, forgetting and searching one embedded data dir at once: they
take turns under the file lock, see each other's writes and leave a consistent store."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from memory import MemoryStore, doctor
from memory.embedded import journal_path
from memory.journal import Journal, replay

WRITER = """
import json, sys
from memory import Memory, MemoryStore
name, path = sys.argv[1], sys.argv[2]
store = MemoryStore(path, namespace="shared")
mine, seen_other = [], 0
for i in range(60):
    text = f"{name} wrote note {i} about the {['garden', 'budget', 'trip'][i % 3]}"
    mine += store.add_many([Memory(text, id=f"{name}-{i}", session=name)])
    if i % 10 == 9:
        store.forget(f"{name}-{i - 5}")
        mine.remove(f"{name}-{i - 5}")
        hits = store.search(text, k=3)
        assert hits and hits[0].memory.id == f"{name}-{i}", [h.memory.id for h in hits]
        seen_other = max(seen_other, sum(1 for m in store.all() if not m.id.startswith(name)))
print(json.dumps({"mine": mine, "seen_other": seen_other, "count": store.count()}))
"""


def test_two_processes_share_one_dir(tmp_path, embedder):
    path = tmp_path / "mem"
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), name, str(path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for name in ("left", "right")
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(json.loads(out))
    expected = set(outputs[0]["mine"]) | set(outputs[1]["mine"])
    assert len(expected) == 2 * 54
    assert any(o["seen_other"] > 0 for o in outputs)  # they really ran side by side

    with MemoryStore(path, namespace="shared", embedder=embedder) as store:
        assert {m.id for m in store.all()} == expected
        assert store.count() == len(expected)
        hit = store.search("right wrote note 59 about the trip", k=1)[0]
        assert hit.memory.id == "right-59"
    state = replay(Journal(journal_path(path.resolve(), "shared")).read(0).records)
    assert {id for id, m in state.items() if m is not None} == expected  # the journal agrees with Chroma
    assert doctor(path).healthy


OPENER = "import sys; from memory import MemoryStore; MemoryStore(sys.argv[1], namespace='n').close()"


def test_processes_creating_a_fresh_dir_at_once_do_not_race(tmp_path):
    # Chroma's schema migration is not safe across processes: opening must happen under the lock.
    for trial in range(3):
        path = tmp_path / f"mem{trial}"
        procs = [
            subprocess.Popen([sys.executable, "-c", OPENER, str(path)], stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        errors = [proc.communicate(timeout=120)[1] for proc in procs]
        assert [proc.returncode for proc in procs] == [0] * 4, "\n".join(e[-600:] for e in errors)
        assert doctor(path).healthy
