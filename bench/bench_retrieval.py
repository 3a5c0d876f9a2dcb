"""Retrieval quality: recall@5/@10 of evidence turns, this store vs the plain baseline, same run.

    python bench/bench_retrieval.py [--dev-seeds 1 2 3] [--test-seeds 11 12 13] [--quick]

Data: bench/gen_conversations.py (synthetic multi-session conversations; see its docstring for
the question kinds), in two splits: the ranking's weights (`memory.retrieval.Weights`) were
tuned on the dev seeds only; the test seeds carry the headline figures and the target check. Both
come from the same generator and templates, so the test figures are in-distribution too: a gap
between the splits shows overfit to the seeds, not to the generator. For real conversations see
bench/bench_recall_e2e.py (LoCoMo dev).

    baseline   sentence-transformers all-MiniLM-L6-v2 (torch) + a plain Chroma collection,
               top-k by cosine: what the memory was before issue 5
    store      MemoryStore.search (hybrid) with its default embedder (ONNX int8)
    also       MemoryStore with the torch embedder, and the store's mode="vector" (int8 cosine
               only), to separate the ranking's gain from the embedder's effect

recall@k = evidence turns in the top k / evidence turns, averaged over questions. Each turn is
stored as "Speaker: text" with its session and time, as an agent would; questions that carry a
`now` (temporal ones) pass it to search. Writes bench/results/retrieval.json and exits 1 if
the store's recall@10 on the test split is under 0.75 or not above the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from gen_conversations import generate  # noqa: E402

TARGET_R10 = 0.75
DEV_SEEDS = [1, 2, 3]
TEST_SEEDS = [11, 12, 13]


def recall(found: list[str], evidence: list[str], k: int) -> float:
    top = set(found[:k])
    return sum(e in top for e in evidence) / len(evidence)


def run_baseline(data, workdir: Path) -> dict[str, list[str]]:
    import chromadb
    from chromadb.config import Settings
    from sentence_transformers import SentenceTransformer

    from memory.embeddings import bundled_model_dir

    model = SentenceTransformer(str(bundled_model_dir()), device="cpu", local_files_only=True)
    client = chromadb.PersistentClient(path=str(workdir / "baseline"), settings=Settings(anonymized_telemetry=False))
    results = {}
    for conv in data["conversations"]:
        col = client.create_collection(f"base_{conv['id']}", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
        texts = [t["text"] for t in conv["turns"]]
        col.add(ids=[t["id"] for t in conv["turns"]], embeddings=model.encode(texts, normalize_embeddings=True), documents=texts)
        for i, q in enumerate(data["questions"]):
            if q["conversation"] == conv["id"]:
                found = col.query(query_embeddings=model.encode([q["question"]], normalize_embeddings=True), n_results=10)
                results[i] = found["ids"][0]
    return results


def run_store(data, workdir: Path, name: str, embedder, mode: str = "hybrid") -> dict[int, list[str]]:
    from memory import Memory, MemoryStore

    results = {}
    for conv in data["conversations"]:
        store = MemoryStore(workdir / name, namespace=conv["id"], embedder=embedder)
        by_session = defaultdict(list)
        for t in conv["turns"]:
            by_session[t["session"]].append(
                Memory(t["text"], kind="turn", id=t["id"], session=t["session"], created_at=datetime.fromisoformat(t["created_at"]))
            )
        for memories in by_session.values():
            store.add_many(memories)
        last = max(datetime.fromisoformat(t["created_at"]) for t in conv["turns"])
        for i, q in enumerate(data["questions"]):
            if q["conversation"] == conv["id"]:
                now = datetime.fromisoformat(q["now"]) if q.get("now") else last + timedelta(days=1)
                results[i] = [h.memory.id for h in store.search(q["question"], k=10, now=now, mode=mode)]
        store.close()
    return results


def score(data, results) -> dict:
    by_kind = defaultdict(lambda: [0.0, 0.0, 0])
    for i, q in enumerate(data["questions"]):
        row = by_kind[q["kind"]]
        row[0] += recall(results[i], q["evidence"], 5)
        row[1] += recall(results[i], q["evidence"], 10)
        row[2] += 1
    n = len(data["questions"])
    return {
        "recall@5": round(sum(r[0] for r in by_kind.values()) / n, 4),
        "recall@10": round(sum(r[1] for r in by_kind.values()) / n, 4),
        "by_kind": {k: {"n": r[2], "recall@5": round(r[0] / r[2], 3), "recall@10": round(r[1] / r[2], 3)} for k, r in sorted(by_kind.items())},
    }


def run_split(seeds: list[int], systems: dict, embedders: dict, report: dict) -> dict:
    """Every system on every seed of one split; returns the split's question-weighted figures."""
    totals = defaultdict(lambda: defaultdict(float))
    n_questions = 0
    for seed in seeds:
        data = generate(seed)
        n = len(data["questions"])
        n_questions += n
        report["per_seed"][seed] = {"turns": sum(len(c["turns"]) for c in data["conversations"]), "questions": n}
        with tempfile.TemporaryDirectory() as tmp:
            for name, spec in systems.items():
                started = time.perf_counter()
                if spec is None:
                    results = run_baseline(data, Path(tmp))
                else:
                    results = run_store(data, Path(tmp), name, embedders[spec[0]], spec[1])
                scored = score(data, results)
                scored["seconds"] = round(time.perf_counter() - started, 1)
                report["per_seed"][seed][name] = scored
                for key in ("recall@5", "recall@10"):
                    totals[name][key] += scored[key] * n
                print(f"seed {seed} {name:22s} r@5 {scored['recall@5']:.3f}  r@10 {scored['recall@10']:.3f}  ({scored['seconds']} s)", flush=True)
    return {name: {key: round(totals[name][key] / n_questions, 4) for key in ("recall@5", "recall@10")} for name in systems}


def print_split(split: str, seeds: list[int], systems: dict, report: dict) -> None:
    print(f"\n{split} split (seeds {' '.join(map(str, seeds))}; generated: in-distribution)")
    print("kind          " + "  ".join(f"{name[:14]:>14s}" for name in systems))
    kinds = sorted(report["per_seed"][seeds[0]]["baseline"]["by_kind"])
    for kind in kinds:
        cells = []
        for name in systems:
            vals = [report["per_seed"][s][name]["by_kind"].get(kind, {}).get("recall@10", 0.0) for s in seeds]
            cells.append(f"{sum(vals) / len(vals):14.3f}")
        print(f"{kind:12s}  " + "  ".join(cells) + "   (recall@10)")
    for name, figures in report["splits"][split].items():
        print(f"{name:22s} recall@5 {figures['recall@5']:.3f}  recall@10 {figures['recall@10']:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description="recall@k of this store vs the plain baseline")
    parser.add_argument("--dev-seeds", type=int, nargs="+", default=DEV_SEEDS, help="the seeds the weights were tuned on")
    parser.add_argument("--test-seeds", "--seeds", type=int, nargs="+", default=TEST_SEEDS, help="held-out seeds: the target is checked here")
    parser.add_argument("--quick", action="store_true", help="one seed per split, no torch-embedder variant")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "retrieval.json")
    args = parser.parse_args()
    from memory.embeddings import make_embedder

    splits = {"dev": args.dev_seeds, "test": args.test_seeds}
    if args.quick:
        splits = {split: seeds[:1] for split, seeds in splits.items()}
    systems = {"baseline": None, "store": ("onnx-int8", "hybrid"), "store_vector_only": ("onnx-int8", "vector")}
    if not args.quick:
        systems["store_torch_embedder"] = ("torch", "hybrid")
    embedders = {kind: make_embedder(kind) for kind in {s[0] for s in systems.values() if s}}
    report: dict = {"dev_seeds": splits["dev"], "test_seeds": splits["test"], "splits": {}, "per_seed": {}}
    for split, seeds in splits.items():
        report["splits"][split] = run_split(seeds, systems, embedders, report)
    for split, seeds in splits.items():
        print_split(split, seeds, systems, report)
    report["systems"] = report["splits"]["test"]  # the headline figures are the held-out ones
    base, ours = report["systems"]["baseline"], report["systems"]["store"]
    report["ratio_recall@10"] = round(ours["recall@10"] / max(base["recall@10"], 1e-9), 2)
    print(f"\ntest split: store / baseline recall@10: {report['ratio_recall@10']}x (target: store >= {TARGET_R10})")
    ok = ours["recall@10"] >= TARGET_R10 and ours["recall@10"] > base["recall@10"]
    report["target_met"] = ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
