"""What a turn leaves in long-term memory, and which recalled memories are worth a prompt's tokens.

The agent asks these rules; keeping them apart from its loop lets the recall benchmarks
(bench/bench_recall_e2e.py) apply exactly the filter a turn applies.
"""

from __future__ import annotations

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
