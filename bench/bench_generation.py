"""Decoding speed on the user's path against llama.cpp on the same GGUF, the measured kernel choice, quality.

    .venv/bin/python bench/bench_generation.py [--quick] [--tokens 128] [--rounds 3]
                                               [--cpu native|avx512|both] [--skip-quality]

For each kind of CPU — this one as it is (`native`) and, with `ASSISTANT_CPU_CAPABILITY=avx512`,
the same machine with its native bf16 and AMX hidden from torch and oneDNN (`avx512`, what most
laptops and many servers are) — in one run, interleaved round by round so load hits all alike:

  assistant ask --json      a new `assistant ask --json "/chat …"` process (prepared weights, through
                            `Assistant`), a new session each round (earlier rounds come back as
                            recalled memories, which llama.cpp is given too): its own timings —
                            decoding (`decode_tokens_per_s`: the streamed pieces after the first
                            over the span after it) and, shown, generation with its prompt's
                            reading (`tokens_per_s`)
  llama.cpp                 llama-cpp-python on the bundled GGUF in a new process, the request with
                            a system message of one line and the memories `ask` recalled last, timed
                            the same two ways (its default threads: half the CPUs; the target's
                            baseline), and again with every usable CPU (shown)

  kernel choice             in one process per kind of CPU: `LocalChatModel` (prepared weights) for
                            dtype auto and each fixed kind, decoding in turn; `auto` must be within
                            10% of the fastest that keeps quality (int4, bfloat16, float32: target);
                            dynamic int8 is shown too (auto never picks it: it changes the replies)
  quality                   greedy replies of the kernels `auto` chose against the fp32 reference
                            (10 prompts x 48 tokens): identical on >= 7/10 (target)

The target compares decoding. `ask`'s prompt carries the chat chain's instructions and the
memories recalled from the earlier rounds (hundreds of tokens), and so does llama.cpp's (the same
memories; its instructions are shorter): the rates with the prompt included and the first-token
times are printed beside. Targets: ask / llama.cpp >= 0.9 (decoding) on both kinds of CPU. A
ratio target counts as missed only when the median plus the rounds' half-spread stays below it. Exit 2 without llama-cpp-python
(`make bench` installs it); results go to bench/results/generation.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.llama_baseline import installed, prelude  # noqa: E402
from bench.targets import RESULTS, isolated_env, print_machine  # noqa: E402
from assistant.local.cpu import usable_cpus  # noqa: E402

REQUEST = "/chat Write a detailed story about a lighthouse keeper who finds a message in a bottle."
QUALITY_PROMPTS = [
    "What is the capital of France?",
    "Write a Python function that reverses a string.",
    "Explain photosynthesis to a child.",
    "Give three tips for writing a cover letter.",
    "Summarise the plot of Romeo and Juliet.",
    "What is 17 times 23?",
    "Write a haiku about autumn.",
    "How do I sort a list of dictionaries by a key in Python?",
    "What are the benefits of regular exercise?",
    "Translate 'good morning' into Spanish and French.",
]
QUALITY_TOKENS = 48
QUALITY_IDENTICAL = 7
ASK_TARGET = 0.9
AUTO_SLACK = 0.10
FIXED_DTYPES = ("int4", "int8", "bfloat16", "float32")
COMPARED = ("auto", "int4", "bfloat16", "float32")  # int8 is shown, not a rival: it costs quality, so auto skips it
CPUS = {"native": None, "avx512": "avx512"}
INSTALL_HINT = "pip install 'llama-cpp-python>=0.3'  (`make bench` does it)"

LLAMA_SNIPPET = """
import json, sys, time
from llama_cpp import Llama
gguf, text, tokens, system_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
threads = {"n_threads": int(sys.argv[5])} if len(sys.argv) > 5 else {}  # else its default: half the CPUs
llm = Llama(model_path=gguf, n_ctx=4096, verbose=False, **threads)
system = open(system_file, encoding="utf-8").read()
messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
prompt_tokens = len(llm.tokenize((system + text).encode()))
# warm-up, as ours warms at load; another prompt, else llama-cpp-python keeps its KV cache and the
# timed call would not read its prompt at all
llm.create_chat_completion(messages=[{"role": "user", "content": "Hello."}], max_tokens=4, temperature=0.0)
started = time.perf_counter()
first, last, count = None, None, 0
for part in llm.create_chat_completion(messages=messages, max_tokens=tokens, temperature=0.0, stream=True):
    if part["choices"][0].get("delta", {}).get("content"):
        count += 1
        last = time.perf_counter()
        first = first or last
total = time.perf_counter() - started
print(json.dumps({"tokens": count, "tokens_per_s": count / total, "first_token_ms": 1000 * (first - started),
                  "decode_tokens_per_s": (count - 1) / (last - first), "prompt_tokens": prompt_tokens}))
"""

KERNEL_SNIPPET = """
import json, statistics, sys, time
from langchain_core.messages import HumanMessage
from assistant.models import build_chat_model
tokens, rounds, dtypes = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
models = {d: build_chat_model("bundled", dtype=d, max_new_tokens=tokens) for d in dtypes}
for model in models.values():
    model.ensure_loaded()
rates = {d: [] for d in dtypes}
ask = [HumanMessage("Write a detailed story about a lighthouse keeper who finds a message in a bottle.")]
for r in range(rounds):
    order = dtypes[r % len(dtypes):] + dtypes[:r % len(dtypes)]
    for d in order:
        stamps = [time.perf_counter() for chunk in models[d].stream(ask) if chunk.content]
        rates[d].append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
plan = models["auto"].plan
print(json.dumps({"rates": rates, "plan": plan.to_json() if plan else None,
                  "threads": {d: list(m.threads()) for d, m in models.items()}}))
"""

QUALITY_SNIPPET = """
import json, sys
sys.path.insert(0, sys.argv[1])
from bench.bench_generation import quality
print(json.dumps(quality()))
"""


def quality() -> dict[str, Any]:
    """Greedy agreement of the `auto` kernels (as measured on this CPU) with the fp32 reference."""
    import torch

    from assistant.local.bundled import load_bundled
    from assistant.local.decoding import LlamaRunner
    from assistant.local.generation import decode_tokens

    model, tokenizer = load_bundled()
    runner = LlamaRunner(model, "auto")
    stop = frozenset({int(tokenizer.eos_token_id)})
    identical, divergence, agree, total = 0, [], 0, 0
    for text in QUALITY_PROMPTS:
        prompt = list(tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)["input_ids"])
        with torch.inference_mode():
            out = model.generate(torch.tensor([prompt]), max_new_tokens=QUALITY_TOKENS, do_sample=False, pad_token_id=2)
        reference = out[0, len(prompt):].tolist()
        ours = list(decode_tokens(runner, prompt, max_new_tokens=QUALITY_TOKENS, stop_ids=stop))
        if ours == reference:
            identical += 1
        else:
            divergence.append(next((i for i, (a, b) in enumerate(zip(ours, reference)) if a != b), min(len(ours), len(reference))))
        session = runner.session(len(prompt) + len(reference) + 1)
        logits = session.feed(prompt)
        for token in reference:
            agree += int(logits.argmax()) == token
            total += 1
            logits = session.feed([token])
    return {"prompts": len(QUALITY_PROMPTS), "identical_to_fp32": identical, "first_divergence_at_token": divergence,
            "teacher_forced_top1_agreement": agree / max(total, 1), "plan": runner.plan.describe(),
            "passed": identical >= QUALITY_IDENTICAL}


def gguf_path() -> Path:
    from assistant.local.bundled import bundled_gguf_path

    return bundled_gguf_path()


def _json_out(argv: list[str], env: dict[str, str], timeout: int = 1800) -> dict[str, Any]:
    out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}… failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _llama_system(path: Path, reply: dict[str, Any]) -> None:
    """llama.cpp's system message: a one-line instruction and the memories `ask` just recalled, so
    both read a prompt of about the same length and decode over a cache of about the same size
    (attention over ~900 cached tokens costs ~7 ms of a ~30 ms token here)."""
    memories = "\n\n".join(m["text"] for m in reply["recalled"])
    path.write_text("You are a helpful assistant." + (f"\n\nWhat you remember:\n{memories}" if memories else ""),
                    encoding="utf-8")


def _median_and_spread(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), (max(values) - min(values)) / 2


def measure_cpu(kind: str, args: argparse.Namespace, data: str, has_llama: bool) -> dict[str, Any]:
    forced = CPUS[kind]
    env = isolated_env(data, ASSISTANT_MAX_NEW_TOKENS=str(args.tokens), **({"ASSISTANT_CPU_CAPABILITY": forced} if forced else {}))
    ask = [sys.executable, "-m", "assistant.cli", "ask", "--json", REQUEST]
    system = Path(data) / f"llama-system-{kind}.txt"  # what ask recalled last, as its prompt carries it
    llama = [sys.executable, "-c", (prelude(str(gguf_path())) if has_llama else "") + LLAMA_SNIPPET, str(gguf_path()),
             REQUEST.removeprefix("/chat "), str(args.tokens), str(system)]
    print(f"\n[{kind}] preparing (the first load measures the kernels on this CPU) …", flush=True)
    _llama_system(system, _json_out(ask, env))
    cpus = usable_cpus()
    asks, llamas, llamas_all = [], [], []
    for round_no in range(args.rounds):
        group = [("ask", ask)]
        if has_llama:
            group += [("llama", llama)] + ([("llama_all", [*llama, str(cpus)])] if cpus > max(cpus // 2, 1) else [])
        for name, argv in group if round_no % 2 == 0 else group[::-1]:
            if name == "ask":  # a new session each round: the prompt holds recalled memories, not history
                reply = _json_out([*argv[:-1], "--session", f"bench-{kind}-{round_no + 1}", argv[-1]], env)
                asks.append({**reply["timings"], "recalled": len(reply["recalled"])})
                _llama_system(system, reply)
            else:
                (llamas if name == "llama" else llamas_all).append(_json_out(argv, env))
        line = (f"  round {round_no + 1}: ask decoding {asks[-1]['decode_tokens_per_s']:.1f} tok/s "
                f"({asks[-1]['tokens_per_s']:.1f} with its prompt, {asks[-1]['tokens']} tokens)")
        line += f", {asks[-1]['recalled']} memories recalled"
        if has_llama:
            line += (f"; llama.cpp {llamas[-1]['decode_tokens_per_s']:.1f} ({llamas[-1]['tokens_per_s']:.1f}, "
                     f"{llamas[-1]['tokens']} tokens, a {llamas[-1]['prompt_tokens']}-token prompt)")
        if llamas_all:
            line += f", llama.cpp on {cpus} threads {llamas_all[-1]['decode_tokens_per_s']:.1f}"
        print(line, flush=True)
    record: dict[str, Any] = {"forced": forced, "ask": asks, "llama": llamas, "llama_all_cpus": llamas_all,
                              "usable_cpus": cpus}
    if has_llama:
        ratios = [a["decode_tokens_per_s"] / b["decode_tokens_per_s"] for a, b in zip(asks, llamas)]
        median, half = _median_and_spread(ratios)
        record["ask_over_llama"] = {"rounds": ratios, "median": median, "half_spread": half,
                                    "met": median + half >= ASK_TARGET}
        with_prompt = [a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(asks, llamas)]
        record["ask_over_llama_prompt_included"] = dict(zip(("median", "half_spread"), _median_and_spread(with_prompt)))
    print(f"[{kind}] kernel choice: auto against {', '.join(FIXED_DTYPES)} …", flush=True)
    kernels = _json_out([sys.executable, "-c", KERNEL_SNIPPET, str(min(args.tokens, 64)), str(args.rounds),
                         ",".join(("auto", *FIXED_DTYPES))], env)
    medians = {d: statistics.median(v) for d, v in kernels["rates"].items()}
    best = max(COMPARED, key=medians.__getitem__)
    kernels.update(medians=medians, best=best, met=medians["auto"] >= (1 - AUTO_SLACK) * medians[best])
    record["kernels"] = kernels
    if not args.skip_quality:
        print(f"[{kind}] quality of the chosen kernels against fp32 …", flush=True)
        record["quality"] = _json_out([sys.executable, "-c", QUALITY_SNIPPET, str(ROOT)], env)
    return record


def _attend_timings(plan: dict[str, Any]) -> str:
    timings = plan.get("timings_ms") or {}
    if "attend torch" not in timings:
        return "(not timed: no compiler)"
    return f"(a token at 640 cached: torch {timings['attend torch']:.1f} ms, compiled {timings['attend native']:.1f} ms)"


def report(kind: str, record: dict[str, Any]) -> list[bool]:
    verdicts = []
    asks = record["ask"]

    def rates(runs: list[dict[str, Any]]) -> str:
        decode, half = _median_and_spread([r["decode_tokens_per_s"] for r in runs])
        whole, whole_half = _median_and_spread([r["tokens_per_s"] for r in runs])
        first = statistics.median(r["first_token_ms"] for r in runs)
        return (f"decoding {decode:6.1f} tok/s (±{half:.1f}); with its prompt {whole:6.1f} (±{whole_half:.1f}); "
                f"first token {first:.0f} ms")

    print(f"[{kind}] assistant ask --json   {rates(asks)}")
    if record["llama"]:
        print(f"[{kind}] llama.cpp (same GGUF)   {rates(record['llama'])}")
        if record.get("llama_all_cpus"):
            rate = statistics.median(a["decode_tokens_per_s"] for a in asks)
            arate = statistics.median(b["decode_tokens_per_s"] for b in record["llama_all_cpus"])
            print(f"[{kind}] llama.cpp, {record['usable_cpus']} threads {rates(record['llama_all_cpus'])}; "
                  f"ask / it {rate / arate:.2f}x (shown, not the target's baseline)")
        r, p = record["ask_over_llama"], record["ask_over_llama_prompt_included"]
        verdict = "met" if r["median"] >= ASK_TARGET else "met within noise" if r["met"] else "MISSED"
        print(f"[{kind}] ask / llama.cpp, decoding {r['median']:.2f}x (±{r['half_spread']:.2f})  target >= {ASK_TARGET}: "
              f"{verdict}; with the prompts (unequal) {p['median']:.2f}x (±{p['half_spread']:.2f})")
        verdicts.append(r["met"])
    k = record["kernels"]
    plan = k["plan"] or {}
    shown = ", ".join(f"{d} {v:.1f}" for d, v in k["medians"].items())
    print(f"[{kind}] kernels (tok/s, decoding): {shown}; auto chose layers {plan.get('layers')}, head {plan.get('head')}, "
          f"threads {k['threads']['auto']} (prompt, token), head threads {plan.get('head_threads') or 'as the token'}, "
          f"{plan.get('attention', 'torch')} attention {_attend_timings(plan)}; fastest {k['best']}: auto within {AUTO_SLACK:.0%}: "
          f"{'met' if k['met'] else 'MISSED'}")
    verdicts.append(k["met"])
    if "quality" in record:
        q = record["quality"]
        print(f"[{kind}] quality: identical to fp32 on {q['identical_to_fp32']}/{q['prompts']} prompts "
              f"(target >= {QUALITY_IDENTICAL}), teacher-forced top-1 {100 * q['teacher_forced_top1_agreement']:.1f}%, "
              f"divergence at {q['first_divergence_at_token']}: {'met' if q['passed'] else 'MISSED'}")
        verdicts.append(q["passed"])
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", choices=("native", "avx512", "both"), default="both")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 64 tokens, no quality check")
    args = parser.parse_args()
    if args.quick:
        args.tokens, args.rounds, args.skip_quality = min(args.tokens, 64), min(args.rounds, 2), True
    has_llama = installed()
    if not has_llama:
        print(f"llama-cpp-python is not installed, so there is no llama.cpp baseline: {INSTALL_HINT}")
    results: dict[str, Any] = {"machine": print_machine(), "tokens": args.tokens, "rounds": args.rounds, "cpus": {}}
    kinds = list(CPUS) if args.cpu == "both" else [args.cpu]
    with tempfile.TemporaryDirectory() as data:
        for kind in kinds:
            results["cpus"][kind] = measure_cpu(kind, args, data, has_llama)
    print()
    verdicts = [v for kind in kinds for v in report(kind, results["cpus"][kind])]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "generation.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    if not has_llama:
        return 2
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
