"""Analysis accuracy on tables this project did not write: the analysis chain vs two baselines.

    .venv/bin/python bench/bench_analysis.py [--tokens 256] [--sample] [--out bench/results/analysis.json]

Questions (bench/analysis_questions.py): two slices — "tuned" (the rules were fixed on these after a
first run: general fixes, but the slice is no longer unseen) and "held-out" (written after, run
without changing the rules). DABench-style (question, constraints, answer format with
precision) over CSVs bundled in PyPI packages (palmerpenguins, scikit-learn), copied to a temp
workspace; expected answers computed there with plain pandas/scipy. A question counts when every
requested value is right: the `@slot[value]` line when the reply has one, else a number in the reply
equal after rounding (or the option word) — the same rule for every arm. Arms, in the same run:
- chain: `Assistant` with the bundled model and --auto-run, one session per question (the user path);
- rules-before: the same `Assistant` with the multi-step planner switched off (the single-step rules
  as they were before issue 13's analysis work) — a baseline that can win on one-step questions;
- model-code: the same bundled model writing pandas code for the question, run in the sandbox.
--sample adds the in-distribution arm: the project's own sample tables (bench/analysis_sample.py).
Exits 1 when the chain does not beat both baselines, or the bench extra (palmerpenguins, sklearn) is
missing — said on stderr, never skipped silently.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.analysis_sample import answer_part, numbers_in  # noqa: E402

ARMS = ("chain", "rules-before", "model-code")


def value_ok(answer: str, slot: str, expected: object, decimals: int) -> bool:
    """One requested value: its @slot line if present, else any number / option word in the answer."""
    line = re.search(rf"@{re.escape(slot)}\[([^\]]*)\]", answer)
    if isinstance(expected, str):
        if line:
            return line.group(1).strip(" '\"").lower() == expected.lower()
        return bool(re.search(rf"(?<![\w-]){re.escape(expected.lower())}(?![\w-])", answer.lower()))
    target = round(float(expected), decimals)
    tolerance = 0.5 * 10 ** -decimals + 1e-9
    candidates = numbers_in(line.group(1)) if line else numbers_in(answer)
    return any(abs(value - target) <= tolerance for value in candidates)


def all_ok(answer: str, question: dict, expected: dict) -> bool:
    decimals = question["decimals"]
    return all(value_ok(answer, slot, value, decimals[slot] if isinstance(decimals, dict) else decimals)
               for slot, value in expected.items())


@contextmanager
def planner_off():
    """The chain with the multi-step planner switched off: what the rules answered before it."""
    import assistant.chains.analysis as analysis

    def no_plan(request, frame, name):
        return None
        yield  # a generator, as the chain expects

    saved = analysis._multi_step
    analysis._multi_step = no_plan
    try:
        yield
    finally:
        analysis._multi_step = saved


def ask(bot, text: str, session: str, tables: Path) -> str:
    workspace = bot.sessions.workspace(session)
    for path in tables.iterdir():
        shutil.copy(path, workspace / path.name)
    return bot.ask(text, session=session).text


def model_code(model, text: str, workspace: Path, tables: Path) -> str:
    """The bundled model writes pandas code for the question; it runs in the sandbox; its output is the answer."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from assistant.chains.analysis import SYSTEM
    from assistant.chains.analysis_steps import CODEGEN_ASK
    from assistant.chains.fences import ensure_fenced, main_block
    from tools.sandbox import run_python

    for path in tables.iterdir():
        shutil.copy(path, workspace / path.name)
    question = text.removeprefix("/analyze ").strip()
    name = question.split(":", 1)[0]
    reply = str(model.invoke([SystemMessage(SYSTEM), HumanMessage(CODEGEN_ASK.format(path=name, question=question))]).content)
    code = main_block(ensure_fenced(reply))[1]
    if not code:
        return reply
    result = run_python(code, workspace=workspace, timeout=60)
    return result.stdout if result.exit_code == 0 else f"(code failed) {result.stderr[-300:]}"


def run_honest(model, args, scratch: Path) -> tuple[dict, list]:
    import pandas as pd

    from assistant import Assistant
    from bench.analysis_questions import HELDOUT, QUESTIONS, install_tables, request

    tables = scratch / "tables"
    tables.mkdir()
    names = install_tables(tables)
    frames = {name: pd.read_csv(tables / name) for name in names}
    questions = ([dict(q, slice="tuned") for q in QUESTIONS] + [dict(q, slice="held-out") for q in HELDOUT])
    questions = [q for q in questions if args.slice in ("all", q["slice"])][: args.questions]
    arms = args.arms
    bots = {arm: Assistant(data_dir=scratch / arm, chat_model=model, auto_run=True) for arm in ARMS[:2] if arm in arms}
    rows = []
    for i, q in enumerate(questions):
        expected = q["expected"](frames)
        text = request(q)
        t0 = time.perf_counter()
        answers = {"chain": ask(bots["chain"], text, f"q{i}", tables)} if "chain" in arms else {}
        if "rules-before" in arms:
            with planner_off():
                answers["rules-before"] = ask(bots["rules-before"], text, f"q{i}", tables)
        if "model-code" in arms:
            code_ws = scratch / "code" / f"q{i}"
            code_ws.mkdir(parents=True)
            answers["model-code"] = model_code(model, text, code_ws, tables)
        marks = {arm: all_ok(answer_part(answers[arm]), q, expected) for arm in arms}
        rows.append({"slice": q["slice"], "request": text, "expected": {k: v if isinstance(v, str) else float(v) for k, v in expected.items()},
                     **marks, **{f"{arm}_answer": answer_part(answers[arm])[-400:] for arm in arms},
                     "seconds": round(time.perf_counter() - t0, 1)})
        print("  ".join("PASS" if marks[a] else "fail" for a in arms) + f"  ({rows[-1]['seconds']:>5} s)  {text[:90]}",
              flush=True)
    return rows


def run_sample(model, scratch: Path) -> tuple[int, int]:
    from assistant import Assistant
    from bench.analysis_sample import DATA, QUESTIONS, correct

    bot = Assistant(data_dir=scratch / "sample", chat_model=model, auto_run=True)
    right = 0
    for i, (question, expected) in enumerate(QUESTIONS):
        ok = correct(ask(bot, "/analyze " + question, f"s{i}", DATA), expected)
        right += ok
        print(f"{'PASS' if ok else 'fail'}  (in-distribution)  {question}", flush=True)
    return right, len(QUESTIONS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=256, help="max new tokens per model call")
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS), help="arms to run (all by default)")
    parser.add_argument("--slice", choices=("all", "tuned", "held-out"), default="all")
    parser.add_argument("--sample", action="store_true", help="also run the in-distribution sample-table arm")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "analysis.json")
    args = parser.parse_args()
    try:
        import palmerpenguins  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        print(f"bench_analysis: the bench extra is missing ({exc}); install it with pip install -e '.[bench]'",
              file=sys.stderr)
        return 1
    from assistant.models import build_chat_model

    model = build_chat_model("bundled", max_new_tokens=args.tokens)
    model.ensure_loaded()
    started = time.perf_counter()
    print("(columns: " + ", ".join(args.arms) + ")")
    with tempfile.TemporaryDirectory() as tmp:
        rows = run_honest(model, args, Path(tmp))
        sample = run_sample(model, Path(tmp)) if args.sample else None
    n = len(rows)
    arms = args.arms
    wins = {arm: sum(r[arm] for r in rows) for arm in arms}
    for part in ("tuned", "held-out"):
        some = [r for r in rows if r["slice"] == part]
        if some:
            print(f"{part:>8} ({len(some)} questions): " + ", ".join(f"{a} {sum(r[a] for r in some)}/{len(some)}" for a in arms))
    print(f"PyPI-bundled tables (palmerpenguins, scikit-learn), {n} questions, every value right: "
          + ", ".join(f"{arm} {wins[arm]}/{n}" for arm in arms))
    if sample:
        print(f"in-distribution sample tables (bench/data), chain: {sample[0]}/{sample[1]}")
    print(f"total {time.perf_counter() - started:.0f} s on {platform.machine()} × {os.cpu_count()} CPUs (shared machine)")
    record = {"model": model.model_name, "max_new_tokens": args.tokens, "questions": n, "wins": wins,
              "sample": sample, "cpus": os.cpu_count(), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if set(args.arms) != set(ARMS):
        print("not every arm ran: no verdict (exit 1)", file=sys.stderr)
        return 1
    return 0 if n and wins["chain"] > max(wins["rules-before"], wins["model-code"]) else 1


if __name__ == "__main__":
    sys.exit(main())
