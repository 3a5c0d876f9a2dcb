"""The public surface of `memory` and the cost of importing it."""

from __future__ import annotations

import json
import subprocess
import sys

import memory


def test_all_is_sorted_and_exact():
    assert memory.__all__ == sorted(memory.__all__)
    assert set(memory.__all__) == {
        "DoctorReport",
        "Embedder",
        "EmbeddingUnavailable",
        "Hit",
        "ImportFileError",
        "Memory",
        "MemoryStore",
        "MemoryStoreError",
        "StoreBusy",
        "StoreCorrupt",
        "StoreStats",
        "StoreUnavailable",
        "default_embedder",
        "doctor",
    }
    assert all(hasattr(memory, name) for name in memory.__all__)


def test_errors_share_one_root():
    for name in ("EmbeddingUnavailable", "StoreBusy", "StoreCorrupt", "StoreUnavailable"):
        assert issubclass(getattr(memory, name), memory.MemoryStoreError)


def test_import_is_light():
    code = (
        "import json, sys, time\n"
        "start = time.perf_counter()\n"
        "import memory\n"
        "elapsed = time.perf_counter() - start\n"
        "heavy = [m for m in ('chromadb', 'torch', 'sentence_transformers', 'numpy', 'filelock', 'assistant', 'tools')"
        " if m in sys.modules]\n"
        "print(json.dumps({'elapsed': elapsed, 'heavy': heavy}))\n"
    )
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out["heavy"] == []  # what makes an import slow; its time (~30 ms) is bench_startup's to measure
