"""What a turn leaves in long-term memory, and which recalled memories are worth a prompt's tokens.

The agent asks these rules; keeping them apart from its loop lets the recall benchmarks
(bench/bench_recall_e2e.py) apply exactly the filter a turn applies.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.events import Artifact
    from assistant.sessions import TurnRecord
    from memory import Memory

# Relevance thresholds. The lexical one is derived on a labelled relevance set
# (bench/bench_recall_e2e.py --calibrate: the top-16 hits of LoCoMo dev conversation 0's questions,
# labelled by whether they hold an evidence line, plus conversation 1's questions asked of
# conversation 0's memory, all unrelated): the best precision that keeps 95% of the relevant hits.
# That set has too few relevant hits found by the vector alone to set the other one (it prints how
# many); it stays where "Hi!" against unrelated notes (0.25-0.35 with MiniLM) stays out.
MIN_RECALL_SCORE = 0.4
MIN_LEXICAL_RECALL_SCORE = 0.16
# Which hits a prompt's budget goes to first: a logistic model over a hit's signals, fitted on a
# labelled relevance set (bench/bench_recall_e2e.py --fit-relevance: the top-32 hits of LoCoMo dev
# conversations 0-2's questions, labelled by whether they hold an evidence line; checked on 3-4).
# Fused rank alone spends the budget in rank order; the model also weighs how far a hit is behind
# the leader, whether the person the question names said it, and that a longer memory holds more.
RELEVANCE_FEATURES = ("score", "relative", "similarity", "log_rank", "log_tokens",
                      "vector", "bm25", "speaker", "context", "part", "time")
RELEVANCE_WEIGHTS = (3.24, 3.07, -0.40, -0.56, 0.61, -0.26, -0.60, 1.26, 0.40, 0.15, 0.21)
RELEVANCE_BIAS = -8.12
TURN_MEMORY_CHARS = 2000
ARTIFACT_MEMORY_CHARS = 1500


def related(hit) -> bool:
    """Ranking is fused (vector, BM25, time, neighbours); whether a hit belongs in the prompt at all is
    decided on its cosine similarity, on the time the request asked about ("last week"), or on
    shared rare words with a weaker similarity ("what did we conclude about Q3?" and an analysis
    that says "Q3 2024 was +25.0%" are only 0.17 apart by MiniLM, but both say Q3)."""
    similarity = hit.score if getattr(hit, "similarity", None) is None else hit.similarity
    sources = getattr(hit, "sources", ())
    if "time" in sources:
        return True
    if "bm25" in sources or "speaker" in sources:
        return similarity >= MIN_LEXICAL_RECALL_SCORE
    # By vector alone, unrelated chat sits at 0.25-0.35 with MiniLM ("Hi!" against random notes):
    # without a shared word, only a clearly close memory is worth the prompt tokens.
    return similarity >= MIN_RECALL_SCORE


def relevance_features(hit, rank: int, top: float) -> list[float]:
    """The signals of `hit` (at 0-based `rank` of a search whose first score is `top`), in
    RELEVANCE_FEATURES order."""
    from assistant.context import approx_tokens

    similarity = hit.score if getattr(hit, "similarity", None) is None else hit.similarity
    sources = set(getattr(hit, "sources", ()))
    return [hit.score, hit.score / top if top > 0 else 0.0, similarity, math.log1p(rank),
            math.log1p(approx_tokens(hit.memory.text))] + [float(s in sources) for s in RELEVANCE_FEATURES[5:]]


def relevance(features: list[float]) -> float:
    """The fitted probability that a hit with these features holds what the question asks for."""
    z = RELEVANCE_BIAS + sum(w * x for w, x in zip(RELEVANCE_WEIGHTS, features))
    return 1 / (1 + math.exp(-z))


def by_relevance(hits: list) -> list:
    """`hits` (in search order) most likely relevant first; ties keep the search order."""
    top = hits[0].score if hits else 0.0
    p = [relevance(relevance_features(hit, rank, top)) for rank, hit in enumerate(hits)]
    return [hits[i] for i in sorted(range(len(hits)), key=lambda i: (-p[i], i))]


def one_version_each(hits: list) -> list:
    """Hits without repeats, each at its best rank: a memory whose text an earlier hit already says
    (the same question asked and answered again), and every other version of an artifact (each
    revision of a draft is a memory; one per session and title, or the same content made twice).
    Repeats would spend the prompt twice on one thing."""
    seen: set[tuple] = set()
    kept = []
    for hit in hits:
        memory = hit.memory
        keys = {("text", memory.text)}
        if memory.kind == "artifact":
            title = memory.metadata.get("title")
            keys.add(("content", memory.text.split("\n", 1)[-1]))  # without the "draft 'title' (v2):" line
            if title:
                keys.add(("version", memory.session, title))
        if keys & seen:
            continue
        seen |= keys
        kept.append(hit)
    return kept


REPLY_SUFFIX = "-reply"


def turn_memories(turn: TurnRecord, session: str) -> list["Memory"]:
    """A turn as long-term memory: what the user said and what the assistant said, one memory each,
    with who said it. Retrieval weighs the speaker ("what did I say about…" looks at the user's
    lines, "what did you suggest…" at the assistant's), a short memory says one thing for the vector,
    and neighbouring rows of a session lift each other, so the pair still comes back together.
    The request keeps the record's memory id; the reply's is that id plus REPLY_SUFFIX."""
    from datetime import timedelta

    from memory import Memory

    ids = {"id": turn.memory_id} if turn.memory_id else {}
    request = Memory(text=f"User: {turn.request}"[:TURN_MEMORY_CHARS], kind="turn", session=session,
                     metadata={"route": turn.route, "speaker": "user"}, **ids)
    reply = Memory(text=f"Assistant: {turn.reply}"[:TURN_MEMORY_CHARS], kind="turn", session=session,
                   metadata={"route": turn.route, "speaker": "assistant", "reply_to": request.id},
                   id=request.id + REPLY_SUFFIX, created_at=request.created_at + timedelta(milliseconds=1))
    return [request, reply]


def artifact_memory(artifact: "Artifact", session: str, route: str) -> "Memory":
    """An artifact as long-term memory: its kind, title and version first, then (the start of) its content."""
    from memory import Memory

    return Memory(
        text=f"{artifact.kind} '{artifact.title}' (v{artifact.version}):\n{artifact.content}"[:ARTIFACT_MEMORY_CHARS],
        kind="artifact", session=session,
        metadata={"route": route, "artifact_id": artifact.id, "path": artifact.path, "title": artifact.title},
    )
