"""What a new process pays on a memory store, for bench_memory_scale: its first search after
opening the store (cold, or overlapped as `assistant ask` starts) against the searches after it,
and `assistant ask` end to end with the store against an empty one and a small one.

Each probe runs a fresh interpreter, so nothing loaded by the bench itself helps it.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASK_ROUNDS = 3
SMALL_STORE = 1_000  # ask's second comparison: a store this small fills the prompt as a large one does


_REOPEN = """
import json, statistics, sys, threading, time
t0 = time.perf_counter()
from memory import MemoryStore
from memory.embeddings import default_embedder
path, queries, mode = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
embedder = default_embedder()
out = {}
if mode == "cold":  # the embedder ready first; then open and search at once: every load on the search
    embedder.embed(["load the model"])
    t = time.perf_counter(); store = MemoryStore(path, namespace="bench", embedder=embedder)
    out["open_ms"] = (time.perf_counter() - t) * 1000
else:  # as `assistant ask` starts: open and warm memory in a thread while the embedder loads
    t = time.perf_counter(); store = MemoryStore(path, namespace="bench", embedder=embedder)
    out["open_ms"] = (time.perf_counter() - t) * 1000
    warming = threading.Thread(target=store.warm); warming.start()
    embedder.embed(["load the model"])
    out["embedder_ms"] = (time.perf_counter() - t) * 1000 - out["open_ms"]
t = time.perf_counter(); store.search(queries[0], k=10); out["first_search_ms"] = (time.perf_counter() - t) * 1000
out["ready_ms"] = (time.perf_counter() - t0) * 1000  # from the interpreter's start to the first results
warm = []
for q in queries[1:]:
    s = time.perf_counter(); store.search(q, k=10); warm.append(time.perf_counter() - s)
out["warm_p50_ms"] = statistics.median(warm) * 1000
print(json.dumps(out))
store.close()
"""


def first_search_after_open(path: Path, queries, mode: str) -> dict:
    """Open the store in a new process (as `assistant ask` does) and time its first search
    against the searches after it.

    mode "cold": the embedder is loaded first (it is not memory's cost), then the store is
    opened and searched at once, so the first search pays whatever opening left undone.
    mode "overlapped": what `assistant ask` does: the store opens and `warm()` runs in a thread
    while the embedder loads (ONNX session, first inference); the first search waits for
    whatever of the warm-up is still running."""
    import subprocess

    texts = [q for _, q in queries[:21]]
    done = subprocess.run([sys.executable, "-c", _REOPEN, str(path), json.dumps(texts), mode], capture_output=True,
                          text=True, cwd=HERE.parent, env={**os.environ, "PYTHONPATH": str(HERE.parent)})
    if done.returncode:
        raise SystemExit(f"reopening {path} failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out = {k: round(v, 1) for k, v in out.items()}
    out["first_over_warm"] = round(out["first_search_ms"] / out["warm_p50_ms"], 2)
    return out


def ask_end_to_end(workdir: Path, store: Path, n: int, small: Path) -> dict:
    """`assistant ask` (the bundled model, 16 new tokens) with the store's n memories against an
    empty store (the target) and against the SMALL-memory store (shown): the median wall time of
    ASK_ROUNDS runs each, in turn.

    An empty store recalls nothing, so its prompt is the request alone, while any store whose
    memories match the request fills the prompt's budget: against the empty store the ratio holds
    the reading of those memories; against the small one, what the store's size adds."""
    import subprocess

    def data_dir(name: str, store: Path | None) -> Path:
        d = workdir / name
        d.mkdir(exist_ok=True)
        if store is not None and not (d / "memory").exists():
            (d / "memory").symlink_to(store)
        return d

    arms = {"with": data_dir(f"ask{n}", store), "empty": data_dir(f"ask-empty{n}", None),
            "small": data_dir(f"ask-small{n}", small)}
    # Each `ask` loads everything itself (keep_alive 0): the store's opening is part of what is timed.
    env = {**os.environ, "ASSISTANT_MAX_NEW_TOKENS": "16", "ASSISTANT_USER": "bench", "PYTHONPATH": str(HERE.parent),
           "ASSISTANT_KEEP_ALIVE": "0"}
    times: dict[str, list[float]] = {label: [] for label in arms}
    for _ in range(ASK_ROUNDS + 1):  # the first round warms the OS caches and the model cache
        for label, d in arms.items():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "assistant.cli", "--data-dir", str(d), "ask", "--json",
                            "What did Alice plan for the budget report?"], capture_output=True, check=True, env=env,
                           cwd=HERE.parent)
            times[label].append(time.perf_counter() - t)
    with_ms, empty_ms, small_ms = (statistics.median(times[k][1:]) * 1000 for k in ("with", "empty", "small"))
    return {"with_ms": round(with_ms), "empty_ms": round(empty_ms), "over_empty": round(with_ms / empty_ms, 3),
            "small_ms": round(small_ms), "small_n": SMALL_STORE, "over_small": round(with_ms / small_ms, 3)}
