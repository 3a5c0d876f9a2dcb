"""Bundled-model timings: warm load, time to first token, greedy tokens/s (fp32 baseline vs bf16).

    .venv/bin/python bench/bench_generation.py [--tokens 128] [--convert]

--convert also times a first-run conversion into a throwaway cache dir (~20 s).
Ratios are against the fp32 figures measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."
_LOAD_SNIPPET = """
import time; t = time.monotonic()
from assistant.bundled import load_bundled
load_bundled()
print(time.monotonic() - t)
"""
_CONVERT_SNIPPET = """
import time; t = time.monotonic()
from assistant.bundled import converted_model_dir
converted_model_dir()
print(time.monotonic() - t)
"""


def _in_new_process(snippet: str, env: dict[str, str] | None = None) -> float:
    out = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
    )
    return float(out.stdout.strip().splitlines()[-1])


def _throughput(dtype_name: str, tokens: int) -> dict[str, float]:
    import statistics

    import torch
    from langchain_core.messages import HumanMessage
    from transformers.generation.streamers import BaseStreamer

    from assistant.bundled import load_bundled
    from assistant.local_chat import LocalChatModel

    class Clock(BaseStreamer):
        def __init__(self) -> None:
            self.ticks: list[float] = []

        def put(self, value: object) -> None:
            self.ticks.append(time.monotonic())

        def end(self) -> None:
            pass

    dtype = getattr(torch, dtype_name)
    chat = LocalChatModel(loader=lambda progress=None: load_bundled(progress, dtype=dtype), max_new_tokens=tokens)
    model, tokenizer = chat.ensure_loaded()
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    clock = Clock()
    with torch.inference_mode():
        model.generate(**inputs, max_new_tokens=4, do_sample=False)  # warm-up
        started = time.monotonic()
        out = model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, streamer=clock)
        elapsed = time.monotonic() - started
    generated = out.shape[-1] - inputs["input_ids"].shape[-1]
    steps = [b - a for a, b in zip(clock.ticks[1:], clock.ticks[2:])]  # ticks[0] is the prompt
    started = time.monotonic()
    stream = chat.stream([HumanMessage(PROMPT)])
    next(stream)
    first_token = time.monotonic() - started
    stream.close()
    return {
        "tokens_per_s": generated / elapsed,
        "median_ms_per_token": 1000 * statistics.median(steps),
        "first_token_ms": first_token * 1000,
    }


def _line(name: str, figures: dict[str, float], base: dict[str, float] | None = None) -> str:
    line = (
        f"{name}: {figures['tokens_per_s']:.1f} tok/s, median {figures['median_ms_per_token']:.0f} ms/token, "
        f"first token {figures['first_token_ms']:.0f} ms"
    )
    if base:
        ratios = {k: figures[k] / base[k] for k in figures}
        line += " | vs fp32: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items())
    return line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--convert", action="store_true")
    args = parser.parse_args()

    if args.convert:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"first-run conversion: {_in_new_process(_CONVERT_SNIPPET, {'ASSISTANT_CACHE_DIR': tmp}):.1f} s")
    _in_new_process(_CONVERT_SNIPPET)  # make sure the real cache exists before timing warm loads
    print(f"warm load (new process, incl. imports): {_in_new_process(_LOAD_SNIPPET):.2f} s")
    base = _throughput("float32", args.tokens)
    print(_line("fp32", base))
    print(_line("bf16", _throughput("bfloat16", args.tokens), base))
    print(f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; other work skews tok/s, less the median)")


if __name__ == "__main__":
    main()
