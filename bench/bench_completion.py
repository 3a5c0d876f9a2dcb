"""Function completion: the coding chain, through `Assistant`, against its own model direct.

    .venv/bin/python bench/bench_completion.py [--tasks N] [--only a,b] [--sequential] [--inline] [--chat]
        [--written] [--tokens 256]

Tasks: bench/data/completion_tasks.jsonl, 53 small functions written for this bench (so
in-distribution for this project, though no chain rule was tuned on them): a signature and a
docstring with two examples, plus hidden tests that are never in the request. Each task is asked
as a person would, on the user's path: `Assistant(auto_run=True).ask("/code Complete this Python
function:" + the stub in a fence)`, one fresh data dir per task (what `assistant --auto-run ask
--json` does in a new process), the code artifact graded.

    direct    the same model continues the stub itself (the signature and docstring as plain text,
              no chat template), greedy, one call: the baseline of issue #13
    chain     the coding chain: continuation candidates (greedy, a one-line hint, samples), checked
              in one sandboxed run per round, chosen by the docstring's examples, then agreement on
              varied inputs, then length; repairs only when none passes. The bundled model decodes
              a round's samples together (completion.BATCH of them a round)
    sequential (--sequential) the same chain with samples one call each, as before batching
              (completion.FIRST_ROUND + SECOND_ROUND candidates at most), for the comparison
    chat      (--chat) the model answers the chat prompt, greedy; its main code block is graded

--written asks for each function without a stub, as a person does who has none to paste: "Write a
Python function f(x): <the docstring's first paragraph>" and the docstring's examples as assert
lines. The direct arm is then the model's chat answer (there is no stub to continue).

Grading: only the hidden tests (so the chain's selection and repairs never see what grades them);
pass@1 = share of tasks whose code passes all hidden tests. 95% intervals: Wilson per arm; paired:
tasks won and lost by the chain against direct, an exact two-sided sign test on them, and a paired
bootstrap of the difference. Greedy calls are cached (deterministic), so the chain runs first and
its seconds include its greedy candidate. Writes bench/results/completion.json; exits 1 unless the
chain beats direct.
"""

from __future__ import annotations

import argparse
import json
import math
import os
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

from bench.bench_coding import cached_bundled_model, direct  # noqa: E402

TASKS = ROOT / "bench" / "data" / "completion_tasks.jsonl"


def request_for(task: dict, inline: bool = False, written: bool = False) -> str:
    """The request as a person types it: the stub in a fence, or (inline) pasted after the words on
    the same line, as a prompt built by string formatting gives it; or (written) no stub at all, the
    function asked for in words with its examples as assert lines."""
    if written:
        return written_request(task)
    if inline:
        return f"Complete this Python function: {task['prompt']}"
    return f"Complete this Python function:\n```python\n{task['prompt']}```"


def written_request(task: dict) -> str:
    """"Write a Python function f(x): <the docstring's first paragraph>" and an `assert` line per
    docstring example: how a person asks for a function when there is no stub to paste."""
    import ast
    import doctest

    node = ast.parse(task["prompt"]).body[0]
    doc = ast.get_docstring(node) or ""
    summary = doc.split("\n\n")[0].replace("\n", " ").strip()
    signature = task["prompt"].split("\n", 1)[0].removeprefix("def ").rstrip(":")
    asserts = [f"assert {e.source.strip()} == {e.want.strip()}" for e in doctest.DocTestParser().get_examples(doc)]
    return f"Write a Python function {signature}: {summary[:1].lower() + summary[1:]}\n" + "\n".join(asserts)


def hidden_pass(code: str, task: dict, workspace: Path) -> bool:
    from tools.code_tests import extract_tests, run_tests

    suite = extract_tests("\n".join(f"assert {test}" for test in task["hidden"]))
    return bool(code.strip()) and run_tests(code, suite, workspace=workspace, timeout=20).ok


def continue_directly(model, request: str) -> str:
    from assistant.chains.completion import BODY_TOKENS, STOP, candidate_code, continuation_messages, find_stub
    from assistant.chains.steps import tuned

    stub = find_stub(request)   # the chain's own greedy call, so the greedy cache answers it
    answer = tuned(model, max_new_tokens=BODY_TOKENS).bind(stop=STOP).invoke(continuation_messages(request, stub)).content
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


def through_assistant(model, request: str, data_dir: Path) -> tuple[str, int]:
    """The user's path: one `ask` with auto-run in a fresh data dir; (the code artifact, sandbox runs)."""
    from assistant import Assistant
    from assistant.events import ArtifactSaved, Failed, ToolStarted

    bot = Assistant(data_dir=data_dir, auto_run=True, chat_model=model)
    runs = 0
    code = ""
    try:
        for event in bot.stream(request, session="bench"):
            runs += isinstance(event, ToolStarted)
            if isinstance(event, ArtifactSaved) and event.artifact.kind == "code" and not code:
                code = Path(event.artifact.path).read_text(encoding="utf-8")
            if isinstance(event, Failed):
                print(f"  the turn failed: {event.message}", flush=True)
        bot.flush()
    finally:
        bot.close()
    return code, runs


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided binomial p-value of wins vs losses (ties dropped), p = 1/2."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(0, min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def machine() -> str:
    from assistant.local.cpu import cpu_info, others_running

    info = cpu_info()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    return (f"{info.model}; flags {' '.join(info.features) or '-'}; {info.usable_cpus} usable CPUs; "
            f"SHARED machine (load average {' '.join(load)}, {others_running()} other runnable tasks now): "
            "timings are noisy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=0, help="the first N tasks (0: all)")
    parser.add_argument("--only", default="", help="comma-separated task names")
    parser.add_argument("--chat", action="store_true", help="also the direct chat arm")
    parser.add_argument("--sequential", action="store_true", help="also the chain with samples one call each")
    parser.add_argument("--inline", action="store_true", help="the stub after the request's words, no fence")
    parser.add_argument("--written", action="store_true",
                        help="no stub: the function asked for in words, its examples as asserts; direct = the chat answer")
    parser.add_argument("--tokens", type=int, default=256, help="max new tokens per model call")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "completion.json")
    args = parser.parse_args()
    from assistant.chains import completion
    from assistant.chains.completion import BATCH, BATCH_ROUNDS, BUDGET_S, FIRST_ROUND, SECOND_ROUND

    tasks = [json.loads(line) for line in TASKS.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.only:
        wanted = set(args.only.split(","))
        tasks = [t for t in tasks if t["name"] in wanted]
    tasks = tasks[: args.tasks] if args.tasks else tasks
    print(machine(), flush=True)
    model = cached_bundled_model(args.tokens)
    inner = model.inner
    arm_names = (["chain", "direct"] + (["sequential"] if args.sequential else [])
                 + (["chat"] if args.chat and not args.written else []))
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            request = request_for(task, args.inline, args.written)
            work = Path(tmp) / task["name"]
            t0 = time.perf_counter()
            code, runs = through_assistant(model, "/code " + request, work / "data")
            chain_s = time.perf_counter() - t0
            row = {"task": task["name"], "chain": hidden_pass(code, task, work / "check"), "runs": runs,
                   "chain_s": round(chain_s, 1)}
            t1 = time.perf_counter()
            answer = direct(model, request) if args.written else continue_directly(model, request)
            row["direct"] = hidden_pass(answer, task, work / "continue")
            row["direct_s"] = round(time.perf_counter() - t1, 1)
            if args.sequential:
                completion.BATCH = 1   # the chain's plan for a model that cannot batch its samples
                t2 = time.perf_counter()
                try:
                    code, _ = through_assistant(model, "/code " + request, work / "data-sequential")
                finally:
                    completion.BATCH = BATCH
                row["sequential"] = hidden_pass(code, task, work / "check-sequential")
                row["sequential_s"] = round(time.perf_counter() - t2, 1)
            if args.chat and not args.written:   # written: direct is the chat answer already
                row["chat"] = hidden_pass(direct(model, request), task, work / "chat")
            rows.append(row)
            mark = {True: "PASS", False: "fail"}
            print(f"{task['name']:<22} " + "  ".join(f"{arm} {mark[row[arm]]}" for arm in arm_names)
                  + f"  ({runs} sandbox runs, chain {row['chain_s']} s)", flush=True)
    n = len(rows)
    arms = {arm: [r[arm] for r in rows] for arm in arm_names}
    seconds = sorted(r["chain_s"] for r in rows)
    form = ", asked in words with assert lines (no stub; direct = the chat answer)" if args.written else \
        ", stubs inline (no fence)" if args.inline else ""
    print(f"\n{n} tasks (written for this bench: in-distribution){form}, "
          "graded on hidden tests only; chain: "
          f"greedy + hint + {BATCH} samples decoded together a round, {BATCH_ROUNDS} rounds at most; sequential: "
          f"{FIRST_ROUND}+{SECOND_ROUND} candidates at most; {BUDGET_S:.0f} s candidate budget, repairs when none passes")
    record = {"model": inner.model_name, "tasks": n, "inline": args.inline, "written": args.written, "machine": machine(),
              "cpus": os.cpu_count(), "batch": BATCH, "batch_rounds": BATCH_ROUNDS,
              "sequential_candidates": [FIRST_ROUND, SECOND_ROUND], "budget_s": BUDGET_S, "arms": {}, "rows": rows,
              "chain_seconds": {"median": seconds[n // 2], "max": seconds[-1], "mean": sum(seconds) / n}}
    for arm, passed in arms.items():
        lo, hi = wilson(sum(passed), n)
        record["arms"][arm] = {"pass_at_1": sum(passed) / n, "passed": sum(passed), "ci95": [lo, hi]}
        print(f"  {arm:<8} pass@1 {sum(passed) / n:.3f} ({sum(passed)}/{n})  Wilson 95% CI [{lo:.3f}, {hi:.3f}]")
    beats = True
    for base in arm_names[1:]:
        wins = sum(c and not b for c, b in zip(arms["chain"], arms[base]))
        losses = sum(b and not c for c, b in zip(arms["chain"], arms[base]))
        lo, hi = paired_bootstrap(arms["chain"], arms[base])
        diff = (sum(arms["chain"]) - sum(arms[base])) / n
        p = sign_test(wins, losses)
        record["arms"]["chain"][f"vs_{base}"] = {"wins": wins, "losses": losses, "sign_test_p": p,
                                                 "diff": diff, "ci95": [lo, hi]}
        print(f"  chain vs {base:<7} won {wins}, lost {losses} (sign test p = {p:.3f}); "
              f"difference {diff:+.3f}, paired bootstrap 95% CI [{lo:+.3f}, {hi:+.3f}]")
        beats &= diff > 0 if base == "direct" else True
    if args.sequential:
        slow = sorted(r["sequential_s"] for r in rows)
        record["sequential_seconds"] = {"median": slow[n // 2], "max": slow[-1], "mean": sum(slow) / n}
        print(f"sequential seconds per task: median {slow[n // 2]:.1f}, mean {sum(slow) / n:.1f}, max {slow[-1]:.1f}")
    print(f"chain seconds per task: median {seconds[n // 2]:.1f}, mean {sum(seconds) / n:.1f}, max {seconds[-1]:.1f}; "
          f"model calls generated {model.calls}, answered from the greedy cache {model.hits}; "
          f"total {time.perf_counter() - started:.0f} s")
    print(machine())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0 if beats else 1


if __name__ == "__main__":
    sys.exit(main())
