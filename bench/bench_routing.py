"""Routing accuracy and latency on the held-out requests, against plain 1-nearest-example.

    .venv/bin/python bench/bench_routing.py [--threads N] [--out bench/results/routing.json]

Data sets, each named with what it is: the dev half of real labelled requests
(../shared/data/routing-dev.jsonl; skipped when absent), a check set of everyday questions for the
chat route (the real set has none; written here, so in-distribution), and tests/data's held-out
files (in-distribution). For each: accuracy per route and overall, a confusion matrix, and
route() latency p50/p95 after warm-up, for the Router and two baselines measured in the same run
over the same examples, whole requests embedded: 1-nearest-example and nearest-centroid. Writes a
JSON record and exits 1 if the router's accuracy on any set is below 0.95.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from assistant.routing import Router, load_examples  # noqa: E402
from bench.devdata import dev_file  # noqa: E402
from memory.embeddings import default_embedder  # noqa: E402

IN_DISTRIBUTION = "written by this project and tuned against: in-distribution"


def data_sets() -> list[tuple[str, Path | None, str]]:
    """(name, path, what it is): the real dev requests first, then this project's own sets."""
    return [
        ("routing-dev.jsonl", dev_file("routing-dev.jsonl"),
         "real requests from public benchmarks (MBPP, InfiAgent-DABench, Arena-Hard, MT-Bench): dev half"),
        ("route_chat_checks.jsonl", ROOT / "bench" / "data" / "route_chat_checks.jsonl",
         "everyday questions written for this bench, never used as examples: in-distribution"),
        ("route_heldout.jsonl", ROOT / "tests" / "data" / "route_heldout.jsonl", IN_DISTRIBUTION),
        ("route_heldout2.jsonl", ROOT / "tests" / "data" / "route_heldout2.jsonl", IN_DISTRIBUTION),
    ]
THRESHOLD = 0.95


class NearestCentroid:
    """The second baseline: the route whose mean example embedding is closest (whole texts)."""

    def __init__(self, examples: dict[str, list[str]], embedder) -> None:
        self.embedder = embedder
        self.names = list(examples)
        centroids = np.stack([embedder.embed(texts).mean(0) for texts in examples.values()])
        self.centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)

    def route(self, text: str) -> str:
        return self.names[int(np.argmax(self.centroids @ self.embedder.embed([text])[0]))]


class NearestExample:
    """The baseline: 1-NN over the same examples, whole texts embedded."""

    def __init__(self, examples: dict[str, list[str]], embedder) -> None:
        self.embedder = embedder
        self.labels = [name for name, texts in examples.items() for _ in texts]
        self.matrix = embedder.embed([t for texts in examples.values() for t in texts])

    def route(self, text: str) -> str:
        return self.labels[int(np.argmax(self.matrix @ self.embedder.embed([text])[0]))]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def evaluate(name: str, items: list[dict], route, routes: list[str]) -> dict:
    confusion = {truth: {guess: 0 for guess in routes} for truth in routes}
    latencies, misses = [], []
    for item in items:
        start = time.perf_counter()
        guess = route(item["text"])
        latencies.append((time.perf_counter() - start) * 1000)
        confusion[item["route"]][guess] += 1
        if guess != item["route"]:
            misses.append({"text": item["text"][:100], "route": item["route"], "got": guess})
    per_route = {r: confusion[r][r] / max(1, sum(confusion[r].values())) for r in routes}
    correct = sum(confusion[r][r] for r in routes)
    return {
        "name": name,
        "n": len(items),
        "accuracy": correct / len(items),
        "per_route": per_route,
        "confusion": confusion,
        "latency_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
                       "mean": statistics.fmean(latencies)},
        "misses": misses,
    }


def show(result: dict, routes: list[str]) -> None:
    lat = result["latency_ms"]
    print(f"  {result['name']:<9} accuracy {result['accuracy']:.4f}  "
          + "  ".join(f"{r} {result['per_route'][r]:.3f}" for r in routes)
          + f"   latency p50 {lat['p50']:.1f} ms  p95 {lat['p95']:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: leave the default)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "routing.json")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    embedder = default_embedder()
    embedder.embed(["load the model before timing anything"])
    examples = load_examples()
    routes = list(examples)

    start = time.perf_counter()
    Router(examples, embedder).warm()
    cold_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as cache_dir:
        Router(examples, embedder, cache_dir=Path(cache_dir)).warm()      # fills the cache
        start = time.perf_counter()
        router = Router(examples, embedder, cache_dir=Path(cache_dir))
        router.warm()
        cached_s = time.perf_counter() - start
    baseline = NearestExample(examples, embedder)
    router.route("warm up"), baseline.route("warm up")

    record = {"examples": {r: len(t) for r, t in examples.items()}, "torch_threads": torch.get_num_threads(),
              "machine": platform.machine(), "cpus": os.cpu_count(),
              "warm_s": {"no_cache": cold_s, "cached": cached_s}, "files": []}
    failed = False
    print(f"routing: {sum(record['examples'].values())} examples {record['examples']}, "
          f"torch threads {record['torch_threads']}")
    print(f"warm-up: {cold_s:.2f} s embedding the examples, {cached_s:.3f} s from the cache")
    centroid = NearestCentroid(examples, embedder)
    for name, path, note in data_sets():
        if path is None or not path.exists():
            print(f"\n{name}: not found, skipped")
            continue
        items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        items = [{"text": i["text"], "route": i.get("route") or i["label"]} for i in items]
        ours = evaluate("router", items, lambda t: router.route(t).name, routes)
        base = evaluate("1-NN", items, baseline.route, routes)
        cent = evaluate("centroid", items, centroid.route, routes)
        present = [r for r in routes if sum(ours["confusion"][r].values())]
        print(f"\n{name} ({len(items)} requests; {note})")
        for result in (ours, base, cent):
            show(result, present)
        ratio = (1 - base["accuracy"]) / max(1e-9, 1 - ours["accuracy"])
        print(f"  errors: router {len(ours['misses'])}, 1-NN {len(base['misses'])} "
              f"(x{ratio:.1f} fewer), centroid {len(cent['misses'])} (the baselines' latency is not comparable: "
              f"the embedder has just seen the same texts)")
        print("  confusion (rows: truth, columns: router)")
        print("    " + " " * 10 + "".join(f"{r:>10}" for r in routes))
        for truth in present:
            print(f"    {truth:<10}" + "".join(f"{ours['confusion'][truth][g]:>10}" for g in routes))
        for miss in ours["misses"]:
            print(f"  miss: {miss['route']} -> {miss['got']}: {miss['text']!r}")
        record["files"].append({"file": name, "note": note, "router": ours, "baseline_1nn": base,
                                "baseline_centroid": cent})
        failed |= ours["accuracy"] < THRESHOLD

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    if failed:
        print(f"FAIL: router accuracy below {THRESHOLD}")
    return 1 if failed or not record["files"] else 0


if __name__ == "__main__":
    sys.exit(main())
