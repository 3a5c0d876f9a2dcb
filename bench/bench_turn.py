"""Turn overhead with 10k memories, and time to first token with the bundled model warm.

    .venv/bin/python bench/bench_turn.py [--memories 10000] [--turns 40] [--skip-model]

Turn overhead = everything in a turn except generation: routing, recall (hybrid search over
10k memories), context building, and writing the turn back (journal + Chroma). It is measured
from the events of `Assistant.stream()` with LangChain's fake chat model (no generation cost):
(first token - start) + (the moment `flush()` returns - last token): the memory write that
follows Finished is counted. Baseline, same run, same store size: the least a
memory-backed turn can do — embed the request, one Chroma top-10 query, one Chroma add.
Target: p50 ≤ 50 ms.

Time to first token (TTFT): `Assistant.stream()` with the bundled model, loaded and warmed by one
turn, on short requests in fresh sessions over the same 10k memories (recall and routing
included). Baseline, same run: the bare model's prefill of the same request (chat template,
one forward pass, argmax) with transformers. Target: p50 ≤ 0.3 s.

--budgets 1200 2000 3000 also times the first token of requests that recall enough to fill the
prompt's context budget, at each budget (`context_tokens`), interleaved in one run: what a larger
budget costs the bundled model (assistant/budget.py keeps the one that meets the target).

Writes bench/results/turn.json; exits 1 when a target is missed by more than the run's noise.
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
from bench.targets import Target, finish, offline, percentile, repeat_noise  # noqa: E402

offline()
from bench.bench_memory_scale import make_texts  # noqa: E402

OVERHEAD_TARGET_MS = 50.0
TTFT_TARGET_S = 0.3
REQUESTS = [  # ordinary short requests, each routed by similarity (no prefixes)
    "What is the capital of Peru?", "Write a haiku about the sea", "How do I boil an egg?",
    "Draft a two-line thank-you note to Priya", "Who wrote Hamlet?", "Give me a title for a blog post on rain",
    "Is coffee bad for sleep?", "Write a limerick about a cat", "What does a project manager do?",
    "Suggest a name for a bakery",
]
TTFT_REQUESTS = ["Hi!", "Who wrote Hamlet?", "Say hello to Ana.", "Name a colour.", "Thanks!"]
FILLING_REQUESTS = [  # about the people and things of make_texts: each recalls a prompt's worth
    "What did Alice plan for the marathon?", "When did Lena cancel the coffee meeting?",
    "What did Marco finish about the python script?", "Tell me about Caroline's trip to Tokyo.",
    "What did Priya review for the revenue forecast?",
]


def fill(store, n: int) -> float:
    from memory import Memory

    texts = make_texts(n, seed=7)
    started = time.perf_counter()
    for start in range(0, n, 1000):
        store.add_many([Memory(text, kind="turn", session=f"s{i // 40}") for i, text in
                        enumerate(texts[start:start + 1000], start)])
    return time.perf_counter() - started


def overhead_ms(bot, request: str, session: str) -> tuple[float, str]:
    from assistant.events import Finished, Routed, Token

    started = time.perf_counter()
    first = last = None
    route = ""
    for event in bot.stream(request, session=session):
        now = time.perf_counter()
        if isinstance(event, Routed):
            route = event.route
        elif isinstance(event, Token):
            first = now if first is None else first
            last = now
        elif isinstance(event, Finished):
            first = first or now
            last = last or now
    if last is not None:
        bot.flush()   # the turn's memory write runs after Finished: it is overhead all the same
        return ((first - started) + (time.perf_counter() - last)) * 1000, route
    raise RuntimeError(f"no Finished event for {request!r}")


def plain_turn_ms(collection, embedder, request: str, i: int) -> float:
    started = time.perf_counter()
    vector = embedder.embed([request])[0].tolist()
    collection.query(query_embeddings=[vector], n_results=10)
    collection.add(ids=[f"turn-{i}"], embeddings=[vector], documents=[request])
    return (time.perf_counter() - started) * 1000


def ttft_s(bot, request: str, session: str) -> float:
    return first_token_and_budget(bot, request, session)[0]


def first_token_and_budget(bot, request: str, session: str) -> tuple[float, int]:
    """Seconds to the first token and the context tokens the prompt spent; generation stops there."""
    from assistant.events import Failed, Recalled, Token

    started, used = time.perf_counter(), 0
    events = bot.stream(request, session=session)
    try:
        for event in events:
            if isinstance(event, Recalled) and event.budget is not None:
                used = event.budget.used
            if isinstance(event, Token):
                return time.perf_counter() - started, used
            if isinstance(event, Failed):
                raise RuntimeError(event.message)
    finally:
        events.close()
    raise RuntimeError(f"no token for {request!r}")


def budget_costs(data: Path, store, budgets: list[int], rounds: int = 2) -> dict:
    """TTFT p50 and context tokens spent at each budget, the budgets' order rotated per request."""
    from dataclasses import replace

    from assistant import Assistant
    from assistant.settings import load_settings

    bots = {b: Assistant(data_dir=data / f"budget{b}", user="bench", store=store,
                         settings=replace(load_settings(), context_tokens=b)) for b in budgets}
    for b, bot in bots.items():
        bot.load_model()
        first_token_and_budget(bot, "Hello there", "warm")
    firsts: dict[int, list[float]] = {b: [] for b in budgets}
    spent: dict[int, list[int]] = {b: [] for b in budgets}
    for i, request in enumerate(FILLING_REQUESTS * rounds):
        for b in budgets[i % len(budgets):] + budgets[: i % len(budgets)]:
            seconds, used = first_token_and_budget(bots[b], request, f"fill{i}-{b}")
            firsts[b].append(seconds)
            spent[b].append(used)
    base = statistics.median(firsts[budgets[0]])
    result = {}
    for b in budgets:
        p50 = statistics.median(firsts[b])
        result[str(b)] = {"ttft_p50_s": round(p50, 3), "context_tokens_p50": statistics.median(spent[b]),
                          "ratio": round(p50 / base, 2)}
        print(f"  budget {b}: TTFT p50 {p50:.3f} s  ({p50 / base:.2f}x budget {budgets[0]}), "
              f"context spent p50 {statistics.median(spent[b]):.0f} tokens")
    return result


def bare_prefill_s(request: str) -> float:
    import torch

    from assistant.local.bundled import load_bundled

    model, tokenizer = load_bundled()
    started = time.perf_counter()
    ids = tokenizer.apply_chat_template([{"role": "user", "content": request}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    with torch.inference_mode():
        logits = model(ids).logits
    tokenizer.decode([int(logits[0, -1].argmax())])
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--skip-model", action="store_true", help="only the turn overhead (no bundled model)")
    parser.add_argument("--budgets", type=int, nargs="*", default=[],
                        help="also time the first token at these context budgets (the first is the baseline)")
    args = parser.parse_args()

    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from assistant import Assistant
    from memory import MemoryStore
    from memory.embeddings import default_embedder

    embedder = default_embedder()
    targets: list[Target] = []
    record: dict = {"memories": args.memories, "turns": args.turns}
    with tempfile.TemporaryDirectory() as data:
        data = Path(data)
        store = MemoryStore(data / "memory", namespace="bench")
        print(f"adding {args.memories} memories …", flush=True)
        record["fill_s"] = round(fill(store, args.memories), 1)
        client = chromadb.PersistentClient(path=str(data / "plain"), settings=ChromaSettings(anonymized_telemetry=False))
        plain = client.create_collection("plain", metadata={"hnsw:space": "cosine"})
        texts = make_texts(args.memories, seed=7)
        for start in range(0, args.memories, 1000):  # the same texts (untimed)
            chunk = texts[start:start + 1000]
            plain.add(ids=[f"m{i}" for i in range(start, start + len(chunk))], documents=chunk,
                      embeddings=embedder.embed(chunk).tolist())

        fake = FakeListChatModel(responses=["Sure — here it is."])
        bot = Assistant(data_dir=data / "agent", user="bench", chat_model=fake, store=store)
        overhead_ms(bot, "warm up the router and the embedder", "warm")
        ours, base, routes = [], [], []
        for i in range(args.turns):  # interleaved with the baseline
            request = REQUESTS[i % len(REQUESTS)]
            ms, route = overhead_ms(bot, request, session=f"t{i % 4}")
            ours.append(ms)
            routes.append(route)
            base.append(plain_turn_ms(plain, embedder, request, i))
        record.update({
            "overhead_ms": [round(v, 2) for v in ours], "plain_turn_ms": [round(v, 2) for v in base],
            "routes": routes,
            "overhead_p50_ms": round(statistics.median(ours), 2), "overhead_p95_ms": round(percentile(ours, 0.95), 2),
            "plain_p50_ms": round(statistics.median(base), 2), "plain_p95_ms": round(percentile(base, 0.95), 2),
        })
        record["overhead_ratio_to_plain"] = round(record["overhead_p50_ms"] / record["plain_p50_ms"], 2)
        print(f"turn overhead, {args.memories} memories: p50 {record['overhead_p50_ms']:.1f} ms  "
              f"p95 {record['overhead_p95_ms']:.1f} ms   plain turn p50 {record['plain_p50_ms']:.1f} ms  "
              f"ratio {record['overhead_ratio_to_plain']:.2f}x")
        targets.append(Target("turn overhead p50, 10k memories", record["overhead_p50_ms"], OVERHEAD_TARGET_MS,
                              "ms", repeat_noise(ours, len(REQUESTS))))

        if not args.skip_model:
            print("loading the bundled model …", flush=True)
            real = Assistant(data_dir=data / "agent", user="bench", store=store)
            real.load_model()
            ttft_s(real, "Hello there", "warm-model")
            bare_prefill_s("Hello there")
            firsts, bares = [], []
            for i, request in enumerate(TTFT_REQUESTS * 2):
                firsts.append(ttft_s(real, request, session=f"ttft{i}"))
                bares.append(bare_prefill_s(request))
            record.update({
                "ttft_s": [round(v, 3) for v in firsts], "bare_prefill_s": [round(v, 3) for v in bares],
                "ttft_p50_s": round(statistics.median(firsts), 3),
                "bare_prefill_p50_s": round(statistics.median(bares), 3),
            })
            record["ttft_ratio_to_bare"] = round(record["ttft_p50_s"] / record["bare_prefill_p50_s"], 2)
            print(f"time to first token: p50 {record['ttft_p50_s']:.3f} s   bare model prefill "
                  f"{record['bare_prefill_p50_s']:.3f} s   ratio {record['ttft_ratio_to_bare']:.2f}x")
            targets.append(Target("time to first token p50, model warm", record["ttft_p50_s"], TTFT_TARGET_S,
                                  "s", repeat_noise(firsts, len(TTFT_REQUESTS))))
            if args.budgets:
                print("time to first token by context budget (requests that fill it):", flush=True)
                record["by_budget"] = budget_costs(data, store, args.budgets)
        store.close()
    return finish("turn", record, targets)


if __name__ == "__main__":
    sys.exit(main())
