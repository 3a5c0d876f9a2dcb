"""What the kernel sandbox costs: run_python start-up and an analysis turn, confined vs audit hook only.

    .venv/bin/python bench/bench_sandbox.py [--runs 15] [--turns 5]

Two figures, each measured against its baseline in the same run, interleaved so machine load hits
both arms alike:
- start-up: one `run_python("print(1)")` under the kernel layer (bubblewrap, seccomp, the
  workspace tmpfs copied in and out) vs the audit hook alone (what every run cost before);
- an analysis turn end to end through `Assistant.ask`: "/analyze Use that function on sales.csv"
  after a /code turn wrote growth(), so the turn runs the function on the data in the sandbox.
  The chat model is LangChain's fake (the turn needs no model call; the model is not what is
  measured); the table is the project's own bench/data/sales.csv (in-distribution, timing only).
Target: confinement adds at most 50 ms per run (median difference). Skips, saying why, where the
kernel layer is unavailable.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.targets import Target, finish, spread  # noqa: E402
from tools import confinement, run_python  # noqa: E402

GROWTH = ("```python\ndef growth(values):\n    return [(b - a) / a for a, b in zip(values, values[1:])]\n```\n"
          "Computes growth.")
LIMIT_MS = 50.0


def cpu() -> str:
    """CPU model and the flags that matter for speed, from /proc/cpuinfo."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    shown = [f for f in ("avx", "avx2", "avx512f", "fma", "sse4_2", "hypervisor") if f in flags]
    return f"{model}; flags: {' '.join(shown)}; {info.count('processor')} logical CPUs"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def startup(runs: int, workspace: Path) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"kernel": [], "hook": []}
    for mode in ("kernel", "hook"):  # warm both (imports, the probe, page cache)
        run_python("print(1)", workspace=workspace, sandbox=mode)
    for _ in range(runs):
        for mode in ("kernel", "hook"):
            result: list = []
            samples[mode].append(timed(lambda: result.append(run_python("print(1)", workspace=workspace, sandbox=mode))))
            assert result[0].stdout == "1\n", result[0]
    return samples


def analysis_turns(turns: int, base: Path) -> dict[str, list[float]]:
    import pandas as pd
    from langchain_core.language_models import FakeListChatModel

    from assistant import Assistant

    bots = {}
    for mode in ("kernel", "hook"):
        confinement.configure(mode)
        bot = Assistant(data_dir=base / mode, chat_model=FakeListChatModel(responses=[GROWTH]), auto_run=True)
        pd.read_csv(ROOT / "bench" / "data" / "sales.csv").to_csv(bot.sessions.workspace("a") / "sales.csv", index=False)
        bot.ask("/code Write a function growth(values) for month-over-month growth", session="a")
        bot.flush()
        bots[mode] = bot
    samples: dict[str, list[float]] = {"kernel": [], "hook": []}
    for _ in range(turns + 1):
        for mode, bot in bots.items():
            confinement.configure(mode)
            replies: list = []
            took = timed(lambda: replies.append(bot.ask("/analyze Use that function on sales.csv for the revenue growth",
                                                         session="a")))
            assert "growth() from growth.py" in replies[0].text, replies[0].text
            samples[mode].append(took)
            bot.flush()  # the turn's memory writes finish outside the timing, not in the next turn's
    return {mode: values[1:] for mode, values in samples.items()}  # the first turn warms caches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--turns", type=int, default=6)
    args = parser.parse_args()
    level = confinement.confinement()
    print(f"CPU: {cpu()} (a shared machine: other work runs alongside, figures are noisy)")
    print(f"sandbox: {level.describe()}")
    if not level.processes:
        print(f"skipped: no kernel sandbox here ({level.reason})")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        runs = startup(args.runs, Path(tmp) / "ws")
        turns = analysis_turns(args.turns, Path(tmp))
    medians = {name: {mode: statistics.median(v) for mode, v in data.items()}
               for name, data in (("run_python('print(1)')", runs), ("analysis turn", turns))}
    for name, median in medians.items():
        print(f"{name:<24} confined {median['kernel']:8.1f} ms   audit hook only {median['hook']:8.1f} ms   "
              f"ratio {median['kernel'] / median['hook']:.2f}x   added {median['kernel'] - median['hook']:+.1f} ms")
    added = medians["run_python('print(1)')"]["kernel"] - medians["run_python('print(1)')"]["hook"]
    noise = max(spread(runs["kernel"]), spread(runs["hook"])) * medians["run_python('print(1)')"]["hook"] / LIMIT_MS
    targets = [Target("confinement added per run_python (median)", added, LIMIT_MS, "ms", noise)]
    record = {"startup_ms": runs, "analysis_turn_ms": turns, "medians_ms": medians, "cpu": cpu(),
              "sandbox": level.describe()}
    return finish("sandbox", record, targets)


if __name__ == "__main__":
    sys.exit(main())
