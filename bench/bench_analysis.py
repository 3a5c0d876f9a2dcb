"""Analysis accuracy: questions over sample tables, the analysis chain vs the bundled model alone.

    .venv/bin/python bench/bench_analysis.py [--tokens 96] [--out bench/results/analysis.json]

The tables are in bench/data (sales.csv, employees.csv, weather.jsonl); each question has a fixed
expected answer worked out once with pandas: numbers (all must appear, within rounding), a label
(must be the first of its candidates named), or "cannot tell" (the data does not hold the answer;
the reply must say so). Two arms, measured in the same run:
- baseline: the bundled model with the whole table pasted into its prompt as CSV;
- chain: the analysis chain (rules and pandas; the bundled model only for what rules cannot parse),
  given the same question, with the tables in its workspace and its context built as the agent does.
The table profile the chain prints is left out of the scoring: only the answer counts.
Writes a JSON record; exits 1 if the chain does not beat the baseline.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain_core.messages import HumanMessage, SystemMessage  # noqa: E402

from assistant.chains.analysis import SYSTEM, analysis_chain  # noqa: E402
from assistant.chains.base import ChainRun  # noqa: E402
from assistant.context import ContextBuilder  # noqa: E402
from assistant.sessions import Session  # noqa: E402

DATA = ROOT / "bench" / "data"
REGIONS = ("North", "South", "East", "West")
DEPARTMENTS = ("Engineering", "Sales", "Support", "Marketing")
CANNOT = "cannot tell"

# (question, expected): a list of numbers, ("label", winner, candidates), or CANNOT
QUESTIONS: list[tuple[str, object]] = [
    ("What is the total revenue in sales.csv?", [145019.5]),
    ("Which region had the highest total revenue in sales.csv?", ("label", "North", REGIONS)),
    ("Which region had the lowest total revenue in sales.csv?", ("label", "East", REGIONS)),
    ("What were the total units by product in sales.csv?", [5335, 3167, 1874]),
    ("What was the quarter-over-quarter growth of revenue in sales.csv?", [8.3, 8.4, 6.3]),
    ("What is the average revenue for Gadget in sales.csv?", [1319.58]),
    ("How many rows in sales.csv have units over 100?", [31]),
    ("What was the average profit per region in sales.csv?", CANNOT),
    ("Which department has the highest average salary in employees.csv?", ("label", "Engineering", DEPARTMENTS)),
    ("What is the correlation between years and salary in employees.csv?", [0.69]),
    ("How many employees in employees.csv have a missing email?", [3]),
    ("How many employees work in Sales according to employees.csv?", [5]),
    ("What is the median salary in employees.csv?", [69760.5]),
    ("How old is the oldest employee in employees.csv?", [46]),
    ("What was the total rain_mm in February in weather.jsonl?", [64.1]),
    ("What was the average temp_c in weather.jsonl?", [6.95]),
    ("What was the weather like in 2019 according to weather.jsonl?", CANNOT),
    ("What was the highest temp_c in weather.jsonl?", [16.0]),
    ("Which product sold the most units in Q4 in sales.csv?", ("label", "Widget", ("Widget", "Gadget", "Gizmo"))),
    ("What is the average age of employees who work remotely in employees.csv?", [38.0]),
    ("What was the revenue of the West region in March in sales.csv?", [3047.5]),
    ("What are the average units per region in sales.csv?", [90.83, 75.36, 68.89, 53.14]),
]
_PROFILE_LINE = re.compile(r"^(?:Table .*rows × .*columns\.|- \S.*\((?:numeric|text|dates|bool).*|Strongest correlation:.*)$")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def answer_part(text: str) -> str:
    """The reply without the table profile lines the chain prints as context."""
    return "\n".join(line for line in text.splitlines() if not _PROFILE_LINE.match(line.strip()))


def numbers_in(text: str) -> list[float]:
    found = []
    for raw in _NUMBER.findall(text):
        try:
            found.append(float(raw.replace(",", "")))
        except ValueError:
            continue
    return found


def close(value: float, expected: float) -> bool:
    decimals = len(str(expected).split(".")[1]) if "." in str(expected) else 0
    return abs(value - expected) <= max(0.5 * 10 ** -decimals, abs(expected) * 1e-4)


def correct(text: str, expected: object) -> bool:
    answer = answer_part(text)
    if expected == CANNOT:
        return bool(re.search(r"cannot tell|can't tell|can not tell|not in (?:the|this) data|no data for|"
                              r"does not (?:contain|include)|no column", answer, re.I))
    if isinstance(expected, tuple):
        _, winner, candidates = expected
        positions = {c: answer.find(c) for c in candidates if c in answer}
        return bool(positions) and min(positions, key=positions.get) == winner
    values = numbers_in(answer)
    return all(any(close(v, e) for v in values) for e in expected)


def table_csv(name: str) -> str:
    path = DATA / name
    if path.suffix == ".jsonl":
        import pandas as pd

        return pd.read_json(path, lines=True).to_csv(index=False)
    return path.read_text(encoding="utf-8")


def baseline(model, question: str) -> str:
    name = re.search(r"[\w.-]+\.(?:csv|jsonl)", question).group(0)
    prompt = f"Here is the table {name}:\n{table_csv(name)}\nQuestion: {question}"
    return str(model.invoke([SystemMessage(SYSTEM), HumanMessage(prompt)]).content)


def through_chain(model, question: str, workspace: Path) -> str:
    chain = analysis_chain()
    session = Session("bench", "bench")
    run = ChainRun(request=question, session=session, workspace=workspace, model=model, cwd=workspace)
    context = ContextBuilder(1200).build(system_prompt=chain.system_prompt, request=question, session=session,
                                         route=chain.name, extra=chain.extra_context(run))
    steps = chain.run(run, context.messages)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value.text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=96, help="max new tokens per model call")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "analysis.json")
    args = parser.parse_args()

    from assistant.models import build_chat_model

    model = build_chat_model("bundled", max_new_tokens=args.tokens)
    model.ensure_loaded()
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        for path in DATA.iterdir():
            shutil.copy(path, workspace / path.name)
        for question, expected in QUESTIONS[: args.questions]:
            t0 = time.perf_counter()
            base_text = baseline(model, question)
            t1 = time.perf_counter()
            chain_text = through_chain(model, question, workspace)
            t2 = time.perf_counter()
            row = {"question": question, "expected": expected if not isinstance(expected, tuple) else expected[1],
                   "baseline": correct(base_text, expected), "chain": correct(chain_text, expected),
                   "baseline_s": round(t1 - t0, 1), "chain_s": round(t2 - t1, 1),
                   "baseline_answer": answer_part(base_text)[:300], "chain_answer": answer_part(chain_text)[:300]}
            rows.append(row)
            print(f"{'PASS' if row['baseline'] else 'fail'} {'PASS' if row['chain'] else 'fail'}  "
                  f"({row['baseline_s']:>5} s / {row['chain_s']:>5} s)  {question}", flush=True)
    n = len(rows)
    base_rate = sum(r["baseline"] for r in rows) / n
    chain_rate = sum(r["chain"] for r in rows) / n
    base_s = sum(r["baseline_s"] for r in rows)
    chain_s = sum(r["chain_s"] for r in rows)
    print(f"\n(columns: baseline, chain)\ncorrect: baseline {base_rate:.0%} ({sum(r['baseline'] for r in rows)}/{n}), "
          f"chain {chain_rate:.0%} ({sum(r['chain'] for r in rows)}/{n}); "
          f"chain/baseline = {chain_rate / base_rate if base_rate else float('inf'):.2f}")
    print(f"time: baseline {base_s:.0f} s, chain {chain_s:.0f} s (x{chain_s / base_s if base_s else 0:.2f}); "
          f"total {time.perf_counter() - started:.0f} s")
    record = {"model": model.model_name, "max_new_tokens": args.tokens, "questions": n, "machine": platform.machine(),
              "cpus": os.cpu_count(), "baseline_correct": base_rate, "chain_correct": chain_rate,
              "baseline_seconds": base_s, "chain_seconds": chain_s, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0 if chain_rate > base_rate else 1


if __name__ == "__main__":
    sys.exit(main())
