"""End-to-end memory on real conversations: does the evidence reach the prompt?

    .venv/bin/python bench/bench_recall_e2e.py [--conversations 0 1 2 3 4] [--questions N] [--replay-dir DIR]

Data: LoCoMo (Maharana et al., "Evaluating Very Long-Term Conversational Memory of LLM Agents",
ACL 2024; snap-research/locomo, CC BY-NC 4.0), the development half (conversations 0-4) read from
../shared/data/locomo-dev.json; skipped cleanly when the file is absent. The sealed half is never
read here.

Replay, through `Assistant` itself: each conversation gets its own data dir; each LoCoMo session
is an Assistant session; the first speaker is the user and the other the assistant, whose lines a
scripted chat model says back in order (consecutive lines of one speaker are one message). Turns
go through "/chat" so every turn is one model call (the route decides nothing about recall).
Then each question (categories 1-4: single-hop, temporal, multi-hop, open-domain; the adversarial
category 5 has no answer to find) is asked in the first person ("When did I go ...", "What did you
paint ...") in a fresh session, and the stream is read up to its `Recalled` event: what the prompt
holds. The turn is then abandoned, so questions never become memories of each other.

    e2e recall   share of evidence lines whose text is inside a memory of the `Recalled` event
    store r@10   the same share in `bot.store.search(question, k=10)`: what ranking finds before
                 the relevance filter, the budget and the context builder have their say
    filter       precision / recall of the relevance filter on the store's top-10, against the
                 label "this hit holds an evidence line" (the labelled relevance set)
    search p50   of the store searches above (this machine, shared: noisy)

--fit-relevance fits assistant.memories' relevance order (RELEVANCE_WEIGHTS) on conversations 0-2
and prints how it does on 3-4; --replay-dir keeps the replays for quick iterations on recall.

The prompt's budget is the one `Assistant` gives the chat model it is handed (assistant/budget.py):
the scripted model states no window, so it is treated as a model served elsewhere (3000 tokens);
ASSISTANT_CONTEXT_TOKENS=1200 measures the bundled model's budget.

Writes bench/results/recall_e2e.json. Exits 1 when the e2e recall is under 0.80.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.devdata import dev_file  # noqa: E402

TARGET = 0.80
CATEGORIES = (1, 2, 3, 4)


def scripted_model(queue: deque):
    """A LangChain chat model that says the next queued line (the other speaker's turn)."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    class Replies:
        def __iter__(self):
            return self

        def __next__(self):
            return AIMessage(queue.popleft() if queue else "OK.")

    return GenericFakeChatModel(messages=Replies())


def turns_of(lines: list[dict], user: str) -> list[tuple[str, str, list[dict]]]:
    """(request, reply, lines) per exchange: the user's lines joined, then the other's lines."""
    turns: list[tuple[str, str, list[dict]]] = []
    ask: list[dict] = []
    say: list[dict] = []
    for line in lines:
        mine = line["speaker"] == user
        if mine and say:
            turns.append((_join(ask), _join(say), ask + say))
            ask, say = [], []
        (ask if mine else say).append(line)
    if ask or say:
        turns.append((_join(ask) or "…", _join(say) or "OK.", ask + say))
    return turns


def _join(lines: list[dict]) -> str:
    return " ".join(_line_text(line) for line in lines)


def _line_text(line: dict) -> str:
    text = line["text"].strip()
    if line.get("blip_caption"):   # LoCoMo's shared photos: the caption is what the text refers to
        text += f" [shares a photo: {line['blip_caption']}]"
    return text


def first_person(question: str, user: str, other: str) -> str:
    """The question as the user asks it: the user's name -> I/me/my, the other's -> you/your."""
    q = question
    for name, subject, obj, possessive in ((user, "I", "me", "my"), (other, "you", "you", "your")):
        first = re.escape(name.split()[0])
        q = re.sub(rf"\b{first}'s\b", possessive, q)
        q = re.sub(rf"(\b(?:to|with|for|from|about|by|at|of|and|than|help|helped|give|gave|tell|told|ask|asked|"
                   rf"invite|invited|meet|met|support|supports)\s+){first}\b",
                   rf"\g<1>{obj}", q)
        q = re.sub(rf"\b{first}\b", subject, q)
    q = re.sub(r"\bI (is|was|has|does)\b", lambda m: "I " + {"is": "am", "was": "was", "has": "have",
                                                           "does": "do"}[m.group(1)], q)
    q = re.sub(r"\b(is|was|has|does) I\b", lambda m: {"is": "am", "was": "was", "has": "have",
                                                       "does": "do"}[m.group(1).lower()] + " I", q, flags=re.I)
    q = re.sub(r"\byou (is|was|has|does)\b", lambda m: "you " + {"is": "are", "was": "were", "has": "have",
                                                               "does": "do"}[m.group(1)], q)
    q = re.sub(r"\b(is|was|has|does) you\b", lambda m: {"is": "are", "was": "were", "has": "have",
                                                         "does": "do"}[m.group(1).lower()] + " you", q, flags=re.I)
    return q[:1].upper() + q[1:]


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def holds(memory_text: str, line_text: str) -> bool:
    """Whether a memory says the evidence line (its first 120 normalised characters)."""
    probe = _norm(line_text)[:120]
    return bool(probe) and probe in _norm(memory_text)


REPLAYED = "replayed"


def replay(conversation: dict, data_dir: Path) -> tuple[Any, dict[str, str], str, str]:
    """The conversation replayed into `data_dir`, or (when a run with --replay-dir already replayed it
    there: the marker file says so) the Assistant reopened on it, for quick iterations on recall."""
    from assistant import Assistant

    conv = conversation["conversation"]
    user, other = conv["speaker_a"], conv["speaker_b"]
    queue: deque = deque()
    done = (data_dir / REPLAYED).exists()
    bot = Assistant(data_dir=data_dir, user="bench", chat_model=scripted_model(queue))
    lines: dict[str, str] = {}
    numbers = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k) and conv[k])
    for number in numbers:
        for request, reply, said in turns_of(conv[f"session_{number}"], user):
            for line in said:
                lines[line["dia_id"]] = _line_text(line)
            if done:
                continue
            queue.append(reply)
            for event in bot.stream("/chat " + request, session=f"s{number}"):
                if type(event).__name__ == "Failed":
                    raise SystemExit(f"replay failed: {event.message}")
    bot.flush()
    (data_dir / REPLAYED).touch()
    return bot, lines, user, other


def ask(bot, question: str, session: str):
    """The memories of the `Recalled` event for `question`; the turn goes no further."""
    stream = bot.stream(question, session=session)
    try:
        for event in stream:
            if type(event).__name__ == "Recalled":
                return event.memories
            if type(event).__name__ == "Failed":
                raise SystemExit(f"question failed: {event.message}")
    finally:
        stream.close()
    return ()


def evaluate(conversation: dict, workdir: Path, limit: int | None) -> dict:
    from assistant.memories import related

    bot, lines, user, other = replay(conversation, workdir)
    store = bot.store
    found = {"e2e": 0, "store10": 0, "evidence": 0, "questions": 0}
    relevance = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    prompt_memories, search_ms = [], []
    qa = [q for q in conversation["qa"] if q.get("category") in CATEGORIES and q.get("evidence")]
    for n, item in enumerate(qa[:limit] if limit else qa):
        evidence = [lines[e] for e in item["evidence"] if e in lines]
        if not evidence:
            continue
        question = first_person(item["question"], user, other)
        recalled = ask(bot, question, session=f"q{n}")
        start = time.perf_counter()
        hits = store.search(question, k=10)
        search_ms.append((time.perf_counter() - start) * 1000)
        found["questions"] += 1
        found["evidence"] += len(evidence)
        found["e2e"] += sum(any(holds(m.text, line) for m in recalled) for line in evidence)
        found["store10"] += sum(any(holds(h.memory.text, line) for h in hits) for line in evidence)
        prompt_memories.append(len(recalled))
        for hit in hits:
            label = any(holds(hit.memory.text, line) for line in evidence)
            kept = related(hit)
            relevance[("t" if label == kept else "f") + ("p" if kept else "n")] += 1
    budget = bot.context_tokens
    bot.close()
    return {"found": found, "relevance": relevance, "prompt_memories": prompt_memories, "search_ms": search_ms,
            "budget": budget}


def calibrate(data: list[dict], workdir: Path, recall_floor: float = 0.95) -> None:
    """Print the relevance thresholds the labelled set calls for (see assistant.agent): the top-16
    hits of conversation 0's questions, labelled by whether they hold an evidence line, plus
    conversation 1's questions asked of conversation 0's memory (every hit unrelated)."""
    bot, lines, user, other = replay(data[0], workdir)
    store = bot.store
    labelled: list[tuple[float, tuple[str, ...], bool]] = []
    for index, conversation in ((0, data[0]), (1, data[1])):
        conv = conversation["conversation"]
        for item in conversation["qa"]:
            if item.get("category") not in CATEGORIES or not item.get("evidence"):
                continue
            evidence = [lines[e] for e in item["evidence"] if e in lines] if index == 0 else []
            question = first_person(item["question"], conv["speaker_a"], conv["speaker_b"])
            for hit in store.search(question, k=16):
                similarity = hit.score if hit.similarity is None else hit.similarity
                labelled.append((similarity, tuple(hit.sources), any(holds(hit.memory.text, e) for e in evidence)))
    bot.close()
    relevant = sum(label for _, _, label in labelled)
    vector_only = sum(label for _, sources, label in labelled if not {"bm25", "speaker", "time"} & set(sources))
    print(f"labelled set: {len(labelled)} hits, {relevant} relevant, {vector_only} of them found by the vector alone")
    best = None
    for lexical in [x / 100 for x in range(0, 41, 2)]:
        kept = [(label, "time" in src or (sim >= lexical if {"bm25", "speaker"} & set(src) else sim >= 0.4))
                for sim, src, label in labelled]
        tp = sum(1 for label, keep in kept if label and keep)
        fp = sum(1 for label, keep in kept if keep and not label)
        precision, recall = tp / max(1, tp + fp), tp / max(1, relevant)
        print(f"  lexical >= {lexical:.2f}: precision {precision:.3f} recall {recall:.3f}")
        if recall >= recall_floor and (best is None or precision > best[1]):
            best = (lexical, precision, recall)
    if best:
        print(f"best lexical threshold keeping >= {recall_floor:.0%} of the relevant hits: {best[0]:.2f} "
              f"(precision {best[1]:.3f}, recall {best[2]:.3f})")


def fit_relevance(data: list[dict], workdir: Path, train: list[int], check: list[int], k: int = 32) -> None:
    """Fit assistant.memories' relevance model: logistic regression (L2, Newton steps) on the
    top-k hits of the `train` conversations' questions, labelled by whether they hold an evidence
    line; print its weights, then how much evidence a 1200-token prompt gets on the `check`
    conversations in search order and in the model's order (so overfitting shows)."""
    import numpy as np

    from assistant.context import approx_tokens
    from assistant.memories import RELEVANCE_FEATURES, relevance_features

    rows: dict[int, list[tuple[list[float], list[int], int, int]]] = {}
    for index in dict.fromkeys(train + check):
        bot, lines, user, other = replay(data[index], workdir / f"conversation-{index}")
        rows[index] = []
        for n, item in enumerate(data[index]["qa"]):
            evidence = [lines[e] for e in item.get("evidence") or [] if e in lines]
            if item.get("category") not in CATEGORIES or not evidence:
                continue
            hits = bot.store.search(first_person(item["question"], user, other), k=k)
            top = hits[0].score if hits else 0.0
            for rank, hit in enumerate(hits):
                held = [j for j, line in enumerate(evidence) if holds(hit.memory.text, line)]
                rows[index].append((relevance_features(hit, rank, top), held, n, approx_tokens(hit.memory.text)))
        bot.close()
    x = np.array([[1.0, *f] for i in train for f, *_ in rows[i]])
    y = np.array([float(bool(held)) for i in train for _, held, *_ in rows[i]])
    w = np.zeros(x.shape[1])
    for _ in range(50):   # Newton-Raphson with a small ridge: the 11 weights converge in a few steps
        p = 1 / (1 + np.exp(-x @ w))
        gradient = x.T @ (p - y) + 1e-2 * np.r_[0, w[1:]]
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    print(f"trained on conversations {train}: {len(y)} hits, {int(y.sum())} relevant")
    print("RELEVANCE_WEIGHTS = (" + ", ".join(f"{v:.2f}" for v in w[1:]) + ")" + f"  # {RELEVANCE_FEATURES}")
    print(f"RELEVANCE_BIAS = {w[0]:.2f}")
    for name, chosen in (("train", train), ("check", check)):
        for order in ("search", "model"):
            got = 0
            for i in chosen:
                questions: dict[int, list] = {}
                for f, held, n, tokens in rows[i]:
                    questions.setdefault(n, []).append((float(np.dot(w, [1.0, *f])), f, held, tokens))
                for hits in questions.values():
                    if order == "model":
                        hits = sorted(hits, key=lambda h: -h[0])
                    left, found = 1150, set()
                    for _, _, held, tokens in hits:
                        if tokens + 20 <= left:
                            left -= tokens + 20
                            found |= set(held)
                    got += len(found)
            print(f"  {name} {chosen}: evidence lines in a 1200-token prompt, {order} order: {got}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, nargs="*", default=None)
    parser.add_argument("--questions", type=int, default=None, help="at most this many questions a conversation")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "recall_e2e.json")
    parser.add_argument("--calibrate", action="store_true", help="print the relevance thresholds instead")
    parser.add_argument("--fit-relevance", action="store_true",
                        help="fit the relevance model on conversations 0-2, check it on 3-4 (needs --replay-dir)")
    parser.add_argument("--replay-dir", type=Path, default=None,
                        help="keep each replayed conversation under this dir and reuse it on the next run "
                             "(quick iterations on recall; delete it after changing how turns are stored)")
    args = parser.parse_args()
    logging.disable(logging.INFO)   # bm25s logs every index build at DEBUG
    path = dev_file("locomo-dev.json")
    if path is None:
        print("locomo-dev.json not found (../shared/data or $THROUGHLINE_DEV_DATA): skipped")
        return 0
    data = json.loads(path.read_text(encoding="utf-8"))
    if args.calibrate:
        with tempfile.TemporaryDirectory(prefix="locomo-") as tmp:
            calibrate(data, Path(tmp))
        return 0
    if args.fit_relevance:
        with tempfile.TemporaryDirectory(prefix="locomo-") as tmp:
            fit_relevance(data, args.replay_dir or Path(tmp), [0, 1, 2], [3, 4])
        return 0
    chosen = args.conversations if args.conversations is not None else list(range(len(data)))
    totals = {"e2e": 0, "store10": 0, "evidence": 0, "questions": 0}
    relevance = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    memories, search_ms, per, budgets = [], [], [], set()
    started = time.perf_counter()
    for index in chosen:
        if args.replay_dir is not None:
            result = evaluate(data[index], args.replay_dir / f"conversation-{index}", args.questions)
        else:
            with tempfile.TemporaryDirectory(prefix="locomo-") as tmp:
                result = evaluate(data[index], Path(tmp), args.questions)
        f = result["found"]
        for key in totals:
            totals[key] += f[key]
        for key in relevance:
            relevance[key] += result["relevance"][key]
        memories += result["prompt_memories"]
        search_ms += result["search_ms"]
        budgets.add(result["budget"])
        per.append({"conversation": index, **f})
        print(f"conversation {index}: {f['questions']} questions, e2e {f['e2e'] / max(1, f['evidence']):.3f}, "
              f"store r@10 {f['store10'] / max(1, f['evidence']):.3f}  ({time.perf_counter() - started:.0f} s)",
              flush=True)
    e2e = totals["e2e"] / max(1, totals["evidence"])
    r10 = totals["store10"] / max(1, totals["evidence"])
    tp, fp, fn = relevance["tp"], relevance["fp"], relevance["fn"]
    precision, recall_f = tp / max(1, tp + fp), tp / max(1, tp + fn)
    p50 = statistics.median(search_ms) if search_ms else 0.0
    print(f"\nLoCoMo dev ({len(chosen)} conversations, {totals['questions']} questions, "
          f"{totals['evidence']} evidence lines; CC BY-NC 4.0, snap-research)")
    print(f"  e2e recall (evidence in the prompt)  {e2e:.3f}   target {TARGET}")
    print(f"  store recall@10                      {r10:.3f}")
    print(f"  prompt context budget                {', '.join(map(str, sorted(budgets)))} tokens "
          "(Assistant's default for a chat model served elsewhere, or context_tokens)")
    print(f"  memories per prompt                  mean {statistics.fmean(memories or [0]):.1f}, "
          f"max {max(memories or [0])}")
    print(f"  relevance filter on the top-10       precision {precision:.3f}  recall {recall_f:.3f}")
    print(f"  search p50 {p50:.1f} ms  ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"shared machine: noisy)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "data": "LoCoMo dev (conversations 0-4), CC BY-NC 4.0", "e2e_recall": e2e, "store_recall_at_10": r10,
        "filter": {"precision": precision, "recall": recall_f, **relevance}, "search_p50_ms": p50,
        "memories_per_prompt": statistics.fmean(memories or [0]), "context_tokens": sorted(budgets),
        "conversations": per,
    }, indent=2) + "\n", encoding="utf-8")
    return 0 if e2e >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
