"""The cycle collector held off while our processes load (assistant.collector)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_loading_runs_no_collection_and_what_it_loaded_is_frozen():
    # in a fresh interpreter: the test runner's own heap and gc state stay as they were
    out = _run("""
        import gc
        from assistant.collector import paused_until_ready
        seen = []
        gc.callbacks.append(lambda phase, info: seen.append(info["generation"]) if phase == "start" else None)
        ready = paused_until_ready()
        loaded = [[i, [i]] for i in range(300_000)]  # what importing and loading allocate
        paused = (gc.isenabled(), list(seen))
        ready(); ready()  # from a loading thread and again at the end: once
        print(paused, gc.isenabled(), gc.get_freeze_count() >= 300_000)
    """)
    assert out == "(False, []) True True"


def test_a_collector_switched_off_before_stays_off():
    out = _run("""
        import gc
        from assistant.collector import paused_until_ready
        gc.disable()
        paused_until_ready()()
        print(gc.isenabled())
    """)
    assert out == "False"

