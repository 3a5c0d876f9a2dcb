"""Coding pass rate: the bundled model answering directly vs through the coding chain.

    .venv/bin/python bench/bench_coding.py [--tasks N] [--tokens 160] [--out bench/results/coding.json]

Each task is a request with its tests written in it, as a person would ask. Both arms get the same
system prompt and request:
- direct: one model call; the answer's main code block runs against the tests in the sandbox;
- chain: the coding chain with auto-run — tests found by rules, static fixes, run, rule-based and
  model repairs (at most 2) — and its kept code runs against the same tests the same way.
A task passes when every test passes. The chain's first prompt differs from the direct one only by
its hint naming the functions the tests call. Decoding is greedy, so any identical call (same
prompt, same options) is answered from a cache instead of generated twice (counted in the output).
Writes a JSON record; exits 1 if the chain does not beat the direct answers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain_core.language_models.chat_models import (
    BaseChatModel,  # noqa: E402
    generate_from_stream,  # noqa: E402
)
from langchain_core.messages import (  # noqa: E402
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGenerationChunk, ChatResult  # noqa: E402
from pydantic import ConfigDict, Field  # noqa: E402

from assistant.chains.base import ChainRun  # noqa: E402
from assistant.chains.coding import SYSTEM, coding_chain  # noqa: E402
from assistant.chains.fences import ensure_fenced, main_block  # noqa: E402
from assistant.sessions import Session  # noqa: E402
from tools.code_tests import extract_tests, run_tests  # noqa: E402

TASKS: list[tuple[str, str]] = [
    ("is_palindrome", "Write a Python function is_palindrome(s) that tells whether a string reads the same backwards.\n"
                      "assert is_palindrome('racecar')\nassert not is_palindrome('hello')\nassert is_palindrome('')"),
    ("reverse_words", "Write reverse_words(s) that reverses the order of the words in a sentence.\n"
                      "assert reverse_words('hello world') == 'world hello'\nassert reverse_words('a b c') == 'c b a'"),
    ("count_vowels", "Write count_vowels(s) returning how many vowels (a, e, i, o, u) a string has.\n"
                     "assert count_vowels('hello') == 2\nassert count_vowels('sky') == 0\nassert count_vowels('AEIOU') == 5"),
    ("factorial", "Write factorial(n) for a non-negative integer n.\n"
                  "assert factorial(0) == 1\nassert factorial(5) == 120"),
    ("fizzbuzz", "Write fizzbuzz(n): 'Fizz' for multiples of 3, 'Buzz' for multiples of 5, 'FizzBuzz' for both, "
                 "else the number as a string.\nassert fizzbuzz(3) == 'Fizz'\nassert fizzbuzz(10) == 'Buzz'\n"
                 "assert fizzbuzz(15) == 'FizzBuzz'\nassert fizzbuzz(7) == '7'"),
    ("is_prime", "Write is_prime(n) that returns True when n is a prime number.\n"
                 "assert is_prime(2)\nassert is_prime(13)\nassert not is_prime(1)\nassert not is_prime(12)"),
    ("sum_of_squares", "Write sum_of_squares(nums) returning the sum of the squares of a list of numbers.\n"
                       "assert sum_of_squares([1, 2, 3]) == 14\nassert sum_of_squares([]) == 0"),
    ("celsius", "Write celsius_to_fahrenheit(c) converting a temperature.\n"
                "assert celsius_to_fahrenheit(0) == 32\nassert celsius_to_fahrenheit(100) == 212"),
    ("average", "Write average(nums) returning the mean of a list, or 0 for an empty list.\n"
                "assert average([1, 2, 3]) == 2\nassert average([]) == 0"),
    ("flatten", "Write flatten(lists) that turns a list of lists into one list.\n"
                "assert flatten([[1, 2], [3], []]) == [1, 2, 3]"),
    ("word_freq", "Write word_frequencies(text) returning a dict of how often each word occurs.\n"
                  ">>> word_frequencies('a b a')\n{'a': 2, 'b': 1}"),
    ("second_largest", "Write second_largest(nums) returning the second largest distinct number in a list.\n"
                       "assert second_largest([3, 1, 4, 4, 2]) == 3\nassert second_largest([10, 20]) == 10"),
    ("dedupe", "Write remove_duplicates(items) that removes duplicates but keeps the first occurrence order.\n"
               "assert remove_duplicates([3, 1, 3, 2, 1]) == [3, 1, 2]"),
    ("growth", "Write mom_growth(values) returning the growth rate between consecutive values as fractions.\n"
               "assert mom_growth([100, 110, 121]) == [0.1, 0.1]\nassert mom_growth([50]) == []"),
    ("capitalize", "Write capitalize_words(s) that capitalizes the first letter of every word.\n"
                   "assert capitalize_words('hello big world') == 'Hello Big World'"),
]


class CachedModel(BaseChatModel):
    """Greedy decoding is deterministic: the same prompt and options give the same answer, so an
    identical call is answered from a cache. Passes per-call options through to the local model."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    inner: Any
    model_name: str = ""
    max_new_tokens: int = 512
    answers: dict = Field(default_factory=dict)
    hits: int = 0
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return self.inner._llm_type

    def _key(self, messages: list[BaseMessage], kwargs: dict) -> str:
        return json.dumps([[m.type, str(m.content)] if hasattr(m, "type") else m for m in messages]
                          + [sorted(kwargs.items())], default=str)

    def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
        if float(kwargs.get("temperature") or 0) > 0:   # a sample is not a greedy answer: never cached
            self.calls += 1
            yield from self.inner._stream(messages, stop=stop, **kwargs)
            return
        key = self._key(messages + [stop], kwargs)
        if key in self.answers:
            self.hits += 1
            yield ChatGenerationChunk(message=AIMessageChunk(content=self.answers[key]))
            return
        self.calls += 1
        parts = []
        for chunk in self.inner._stream(messages, stop=stop, **kwargs):
            parts.append(chunk.message.content)
            yield chunk
        self.answers[key] = "".join(parts)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop=stop, **kwargs))

    def sample_replies(self, messages, n, **options):
        """Samples are never cached: the local model's batch of them, as the chain calls it."""
        self.calls += 1
        return self.inner.sample_replies(messages, n, **options)


def cached_bundled_model(tokens: int) -> CachedModel:
    """The bundled model, loaded, behind the greedy cache; sampling seeded so runs repeat."""
    import torch

    from assistant.models import build_chat_model

    torch.manual_seed(0)
    inner = build_chat_model("bundled", max_new_tokens=tokens)
    inner.ensure_loaded()
    return CachedModel(inner=inner, model_name=inner.model_name, max_new_tokens=tokens)


def passes(code: str, request: str, workspace: Path) -> bool:
    suite = extract_tests(request)
    return bool(code) and run_tests(code, suite, workspace=workspace, timeout=20).ok


def direct(model: BaseChatModel, request: str) -> str:
    answer = model.invoke([SystemMessage(SYSTEM), HumanMessage(request)]).content
    return main_block(ensure_fenced(str(answer)))[1]


def through_chain(model: BaseChatModel, request: str, workspace: Path) -> tuple[str, int]:
    run = ChainRun(request=request, session=Session("bench", "bench"), workspace=workspace, model=model, auto_run=True)
    steps = coding_chain().run(run, [SystemMessage(SYSTEM), HumanMessage(request)])
    runs = 0
    while True:
        try:
            event = next(steps)
        except StopIteration as stop:
            result = stop.value
            break
        runs += type(event).__name__ == "ToolStarted"
    code = next((a.content for a in result.artifacts if a.kind == "code"), "")
    return code, runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=len(TASKS))
    parser.add_argument("--tokens", type=int, default=160, help="max new tokens per model call")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "coding.json")
    args = parser.parse_args()

    model = cached_bundled_model(args.tokens)
    inner = model.inner
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, request in TASKS[: args.tasks]:
            t0 = time.perf_counter()
            workspace = Path(tmp) / name
            direct_ok = passes(direct(model, request), request, workspace / "direct")
            code, runs = through_chain(model, request, workspace / "chain")
            chain_ok = passes(code, request, workspace / "check")
            rows.append({"task": name, "direct": direct_ok, "chain": chain_ok, "runs": runs,
                         "seconds": round(time.perf_counter() - t0, 1)})
            print(f"{name:<16} direct {'PASS' if direct_ok else 'fail'}   chain {'PASS' if chain_ok else 'fail'}"
                  f"   ({runs} sandbox runs, {rows[-1]['seconds']} s)", flush=True)
    n = len(rows)
    direct_rate = sum(r["direct"] for r in rows) / n
    chain_rate = sum(r["chain"] for r in rows) / n
    ratio = chain_rate / direct_rate if direct_rate else float("inf") if chain_rate else 1.0
    print(f"\npass rate: direct {direct_rate:.0%} ({sum(r['direct'] for r in rows)}/{n}), "
          f"chain {chain_rate:.0%} ({sum(r['chain'] for r in rows)}/{n}); chain/direct = {ratio:.2f}")
    print(f"model calls generated: {model.calls}; identical calls answered from the greedy cache: {model.hits}; "
          f"total {time.perf_counter() - started:.0f} s")
    record = {
        "model": inner.model_name, "max_new_tokens": args.tokens, "tasks": n, "machine": platform.machine(),
        "cpus": os.cpu_count(), "direct_pass_rate": direct_rate, "chain_pass_rate": chain_rate,
        "chain_over_direct": ratio, "model_calls": model.calls, "cache_hits": model.hits, "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0 if chain_rate > direct_rate else 1


if __name__ == "__main__":
    sys.exit(main())
