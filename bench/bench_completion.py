"""Function completion: the coding chain against its own model, graded on tests it never saw.

    .venv/bin/python bench/bench_completion.py [--tasks N] [--tokens 256]

Tasks: bench/data/completion_tasks.jsonl, 53 small functions written for this bench (so
in-distribution for this project, though no routing or chain rule was tuned on them): a signature
and a docstring with two examples, plus hidden tests that are never in the request. Each task is
asked as a person would: "Complete this Python function:" and the stub in a fence.

    direct chat      the model answers the chat prompt (the coding chain's system prompt), greedy;
                     its main code block is graded
    direct continue  the model continues the stub itself (its reply begun with the signature and
                     docstring), greedy, one call: the same model completing the code directly
    chain            `coding_chain()` with auto-run: continuation candidates (greedy + sampled,
                     within assistant.chains.completion.BUDGET_S), chosen by the docstring's
                     examples, then the repair loop against those examples

Grading: only the hidden tests (so the chain's selection and repairs never see what grades them);
pass@1 = share of tasks whose code passes all hidden tests. 95% intervals: Wilson per arm, and a
paired bootstrap (10,000 resamples, seeded) for chain minus each direct arm. Writes
bench/results/completion.json; exits 1 unless the chain beats both direct arms.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.bench_coding import cached_bundled_model, direct, through_chain  # noqa: E402

TASKS = ROOT / "bench" / "data" / "completion_tasks.jsonl"


def request_for(task: dict) -> str:
    return f"Complete this Python function:\n```python\n{task['prompt']}```"


def hidden_pass(code: str, task: dict, workspace: Path) -> bool:
    from tools.code_tests import extract_tests, run_tests

    suite = extract_tests("\n".join(f"assert {test}" for test in task["hidden"]))
    return bool(code.strip()) and run_tests(code, suite, workspace=workspace, timeout=20).ok


def continue_directly(model, request: str) -> str:
    from assistant.chains.completion import STOP, candidate_code, continuation_messages, find_stub

    stub = find_stub(request)
    answer = model.bind(stop=STOP).invoke(continuation_messages(request, stub)).content
    return candidate_code(stub, str(answer))


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_bootstrap(a: list[bool], b: list[bool], rounds: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95% interval of mean(a) - mean(b) over tasks resampled with replacement."""
    rng = random.Random(seed)
    n = len(a)
    diffs = sorted(
        sum(a[i] - b[i] for i in (rng.randrange(n) for _ in range(n))) / n for _ in range(rounds)
    )
    return diffs[int(0.025 * rounds)], diffs[int(0.975 * rounds) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=0, help="the first N tasks (0: all)")
    parser.add_argument("--tokens", type=int, default=256, help="max new tokens per model call")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "completion.json")
    args = parser.parse_args()
    from assistant.chains.completion import BUDGET_S, CANDIDATES

    tasks = [json.loads(line) for line in TASKS.read_text(encoding="utf-8").splitlines() if line.strip()]
    tasks = tasks[: args.tasks] if args.tasks else tasks
    model = cached_bundled_model(args.tokens)
    inner = model.inner
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            t0 = time.perf_counter()
            request = request_for(task)
            work = Path(tmp) / task["name"]
            chat_ok = hidden_pass(direct(model, request), task, work / "chat")
            cont_ok = hidden_pass(continue_directly(model, request), task, work / "continue")
            t1 = time.perf_counter()
            code, runs = through_chain(model, request, work / "chain")
            chain_ok = hidden_pass(code, task, work / "check")
            rows.append({"task": task["name"], "direct_chat": chat_ok, "direct_continue": cont_ok, "chain": chain_ok,
                         "runs": runs, "chain_s": round(time.perf_counter() - t1, 1),
                         "seconds": round(time.perf_counter() - t0, 1)})
            mark = {True: "PASS", False: "fail"}
            print(f"{task['name']:<22} chat {mark[chat_ok]}  continue {mark[cont_ok]}  chain {mark[chain_ok]}"
                  f"  ({runs} sandbox runs, chain {rows[-1]['chain_s']} s)", flush=True)
    n = len(rows)
    arms = {arm: [r[arm] for r in rows] for arm in ("direct_chat", "direct_continue", "chain")}
    print(f"\n{n} tasks (written for this bench: in-distribution), graded on hidden tests only; "
          f"chain: {CANDIDATES} candidates at most, {BUDGET_S:.0f} s sampling budget, 2 repairs")
    record = {"model": inner.model_name, "tasks": n, "machine": platform.machine(), "cpu": platform.processor(),
              "cpus": os.cpu_count(), "candidates": CANDIDATES, "budget_s": BUDGET_S, "arms": {}, "rows": rows}
    for arm, passed in arms.items():
        lo, hi = wilson(sum(passed), n)
        record["arms"][arm] = {"pass_at_1": sum(passed) / n, "ci95": [lo, hi]}
        print(f"  {arm:<16} pass@1 {sum(passed) / n:.3f} ({sum(passed)}/{n})  95% CI [{lo:.3f}, {hi:.3f}]")
    beats = True
    for base in ("direct_chat", "direct_continue"):
        lo, hi = paired_bootstrap(arms["chain"], arms[base])
        diff = (sum(arms["chain"]) - sum(arms[base])) / n
        record["arms"]["chain"][f"minus_{base}"] = {"diff": diff, "ci95": [lo, hi]}
        print(f"  chain - {base:<16} {diff:+.3f}  95% CI [{lo:+.3f}, {hi:+.3f}] (paired bootstrap)")
        beats &= diff > 0
    print(f"model calls generated {model.calls}, answered from the greedy cache {model.hits}; "
          f"total {time.perf_counter() - started:.0f} s on a shared {os.cpu_count()}-CPU machine")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0 if beats else 1


if __name__ == "__main__":
    sys.exit(main())
