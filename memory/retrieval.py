"""Hybrid ranking: vector + BM25 lists fused by reciprocal rank, then time, speaker, neighbouring
turns, recency and importance. No model calls besides the query embeddings the store makes (the
query, plus one per topic of a query that joins two or three).

    lists   vector top-N (Chroma), BM25 top-N (mirror); when the query names a time ("last week",
            "in May") the same two again restricted to that window; when it joins topics ("the
            marathon or the podcast"), one vector list per topic
    fuse    score(m) = sum over lists of weight / (rrf_k + rank) (+ the list's scaled score)
    speaker memories said by a person the query names get a bonus
    context a memory next to a strong one in the same session (the turn before or after it) inherits
            part of its score, so "we named him Biscuit" surfaces with "did you get a dog?"
    prior   x (1 + recency * e^(-age/recency_days)) x (1 + importance * importance(m))
            x (1 + informative * how much the memory says)
    distinct a near-repeat of a better row (same words, bar a few) goes behind the others

Weights were tuned on bench/bench_retrieval.py's dev seeds and checked on its test seeds.

What a search costs does not grow with `k` (up to `candidates`): each list is the top `candidates`
rows (k when k is larger, so k memories still come back) and only the `leaders` best rows lend
their neighbours a share. A turn asks for 64+ memories (the prompt's budget decides how many fit);
lists of 3k rows and neighbours of 2k leaders had it rank ~500 rows a search at 10k memories
(~100 ms a turn). 140 a list: on LoCoMo dev (bench_recall_e2e) 70 lost evidence at a 3000-token
budget (conversation 3: 0.806 -> 0.780) and 140 kept it (0.806); more leaders did not help.

`Ranked.score` is the fused score scaled to [0, 1] (1 = first in every list).
"""

from __future__ import annotations

import functools
import math
import os
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from memory.lexical import tokenize
from memory.mirror import Mirror, strip_names
from memory.timeparse import TimeWindow, find_time, strip_phrase

if TYPE_CHECKING:
    import numpy as np

KIND_IMPORTANCE = {"fact": 0.5, "summary": 0.3, "artifact": 0.2, "turn": 0.0}
MAX_PARTS = 3
ROLE_PRONOUNS = {"user": {"i", "me", "my", "mine", "myself"}, "assistant": {"you", "your", "yours", "yourself"}}
_NAME = re.compile(r"\b([A-Z][a-z]+(?:'s)?)\b")


@dataclass(frozen=True)
class Weights:
    rrf_k: int = 60
    vector: float = 1.0
    lexical: float = 1.0
    window: float = 2.0
    speaker: float = 0.5
    neighbour: float = 0.5
    recency: float = 0.05
    recency_days: float = 30.0
    importance: float = 0.1
    informative: float = 1.5
    informative_half: float = 20.0
    entity: float = 1.5
    magnitude: float = 1.5
    candidates: int = 140  # rows taken from each list (k, when more are asked for)
    leaders: int = 24      # rows whose session neighbours inherit part of their score
    dedupe: float = 0.8
    parts: float = 2.0


DEFAULT_WEIGHTS = Weights()


@dataclass
class Ranked:
    row: int
    score: float
    similarity: float | None
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Query:
    """A query taken apart once, before anything is embedded.

    `embed` holds the texts the store embeds: the whole query first (without the speakers it
    names: the speaker signal covers them), then one text per topic when the query joins
    several ("the marathon or the podcast")."""

    text: str  # without its time phrase
    window: TimeWindow | None
    named: frozenset[str]
    embed: tuple[str, ...]


def parse_query(query: str, mirror: Mirror, now: datetime, weights: Weights = DEFAULT_WEIGHTS) -> Query:
    window = find_time(query, now)
    text = strip_phrase(query, window)
    named = frozenset(named_speakers(query, mirror))
    parts = [strip_names(piece, named) for piece in _parts(text, named)] if weights.parts > 0 else []
    return Query(text, window, named, (strip_names(query, named), *parts))


# vector(since, until, n, which) -> for each index in `which` (into Query.embed), [(row, cosine)]
# best first, already filtered by the caller's filters
VectorSearch = Callable[[datetime | None, datetime | None, int, Sequence[int]], list[list[tuple[int, float]]]]


def hybrid_rank(
    mirror: Mirror,
    query: Query,
    k: int,
    mask: "np.ndarray",
    vector: VectorSearch,
    now: datetime,
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[Ranked]:
    w = weights
    n = max(w.candidates, k)   # the vector list alone can still fill k
    window, named = query.window, set(query.named)
    tokens, token_weights = _query_tokens(query.text, w.entity, _speaker_tokens(named))
    # BM25 over every row while Chroma searches the vectors: both leave the interpreter lock for
    # most of their time, so on two CPUs a search at 100k rows took 8.4 ms for both, not 12.9.
    lexical = _beside(lambda: mirror.lexical.scores(tokens, mirror.size, token_weights)) if tokens else None

    fused: dict[int, float] = {}
    sources: dict[int, list[str]] = {}
    similarity: dict[int, float] = {}
    total_weight = 0.0

    def add_list(name: str, rows: list[int], weight: float, scores: list[float] | None = None) -> None:
        """RRF, plus (with `scores`) the min-max scaled score, so a list's clear winner stands
        out from a crowd of near-ties that ranks alone would spread evenly."""
        nonlocal total_weight
        total_weight += weight * (1 + w.magnitude)
        top, low = (max(scores), min(scores)) if scores else (0.0, 0.0)
        for rank, row in enumerate(rows, start=1):
            value = weight / (w.rrf_k + rank)
            if scores and top > low:
                value += weight * w.magnitude * (scores[rank - 1] - low) / (top - low) / (w.rrf_k + 1)
            fused[row] = fused.get(row, 0.0) + value
            sources.setdefault(row, []).append(name)

    hits, *parts = vector(None, None, n, range(len(query.embed)))
    bm25 = lexical.result() if lexical is not None else None
    similarity.update(hits)
    add_list("vector", [row for row, _ in hits], w.vector, [c for _, c in hits])
    if bm25 is not None:
        rows = _top(bm25, mask, n)
        add_list("bm25", rows, w.lexical, [float(bm25[r]) for r in rows])
    for found in parts:  # no cosine kept: it is the topic's, not the query's
        add_list("part", [row for row, _ in found], w.parts / len(parts), [c for _, c in found])
    if window is not None:
        created = mirror.created
        in_window = mask & (created >= window.start.timestamp()) & (created < window.end.timestamp())
        if in_window.any():
            strength = w.window * window.strength
            windowed = vector(window.start, window.end, n, [0])[0]
            similarity.update(windowed)
            add_list("time", [row for row, _ in windowed], strength, [c for _, c in windowed])
            if bm25 is not None:
                rows = _top(bm25, in_window, n)
                add_list("time", rows, strength, [float(bm25[r]) for r in rows])
            else:
                total_weight += strength * (1 + w.magnitude)
    if not fused:
        return []

    if named:
        for row in fused:
            speaker = mirror.speaker[row]
            if speaker and speaker.lower() in named:
                fused[row] *= 1 + w.speaker
                sources[row].append("speaker")

    if w.neighbour > 0:
        _spread_to_neighbours(mirror, fused, sources, mask, w.neighbour, top=w.leaders)

    now_ts = now.timestamp()
    for row in fused:
        memory = mirror.rows[row]
        age_days = max(0.0, (now_ts - mirror.created[row]) / 86400)
        prior = 1 + w.recency * math.exp(-age_days / w.recency_days)
        prior *= 1 + w.importance * _importance(memory)
        if w.informative:
            info = mirror.lexical.information(row)
            prior *= 1 + w.informative * info / (info + w.informative_half)
        fused[row] *= prior

    best = _distinct(mirror, sorted(fused, key=lambda row: (-fused[row], row)), k, w.dedupe)
    scale = (total_weight / (w.rrf_k + 1)) * (1 + w.speaker) * (1 + w.recency) * (1 + w.importance) * (1 + w.informative)
    scale = scale or 1.0
    return [Ranked(row, min(1.0, fused[row] / scale), similarity.get(row), sources[row]) for row in best]


def _distinct(mirror: Mirror, ordered: list[int], k: int, dedupe: float) -> list[int]:
    """The first `k` of `ordered`, a row whose words (nearly) repeat an earlier row's moved
    behind the rest: chit-chat said again and again ("how was your day?") should not fill the
    page twice. `dedupe` is the word overlap (Jaccard) from which two rows count as one.

    Only rows sharing a word of their sorted words' *prefix* are compared (prefix filtering: two
    sets that overlap by a share `dedupe` always share a word of those prefixes), so a page of
    64 rows costs a few comparisons a row, not one per row already kept."""
    if not dedupe:
        return ordered[:k]
    kept: list[frozenset[str]] = []
    by_word: dict[str, list[int]] = {}   # a prefix word -> the kept rows (indexes into `kept`) it starts
    first, repeats = [], []
    for row in ordered:
        sorted_words = mirror.lexical.signature(row)
        words = frozenset(sorted_words)
        prefix = sorted_words[: len(sorted_words) - math.ceil(dedupe * len(sorted_words) - 1e-9) + 1]
        near = {i for word in prefix for i in by_word.get(word, ())}
        if any(len(words & kept[i]) >= dedupe * len(words | kept[i]) for i in near):
            repeats.append(row)
            continue
        for word in prefix:
            by_word.setdefault(word, []).append(len(kept))
        kept.append(words)
        first.append(row)
        if len(first) == k:
            return first
    return (first + repeats)[:k]


_helper: "ThreadPoolExecutor | None" = None
_helper_lock = threading.Lock()


@functools.cache
def _one_cpu() -> bool:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cpus < 2


def _beside(work: Callable[[], "np.ndarray"]) -> "Future[np.ndarray]":
    """`work` in a helper thread, to overlap the caller's next step; inline on one CPU, where a
    thread would only take turns with it."""
    global _helper
    if _one_cpu():
        done: Future = Future()
        try:
            done.set_result(work())
        except Exception as exc:  # the caller's result() raises it, as the helper's would
            done.set_exception(exc)
        return done
    with _helper_lock:
        if _helper is None:
            _helper = ThreadPoolExecutor(1, thread_name_prefix="bm25")
    return _helper.submit(work)


def _top(scores: "np.ndarray", mask: "np.ndarray", n: int) -> list[int]:
    import numpy as np

    masked = np.where(mask & (scores > 0), scores, 0.0)
    positive = int(np.count_nonzero(masked))
    if positive == 0:
        return []
    n = min(n, positive)
    part = np.argpartition(-masked, n - 1)[:n]
    return [int(r) for r in part[np.argsort(-masked[part], kind="stable")]]


_SPLIT = re.compile(r"\s*(?:;|\band\b|\bor\b|\bversus\b|\bvs\b\.?)\s*", re.IGNORECASE)


def _parts(text: str, named: Iterable[str]) -> list[str]:
    """The topics of a query that joins two or three ("the marathon or the podcast"), each to
    get its own vector list: one embedding of the whole sits between the topics and finds
    turns that touch both weakly before a turn that is all about one. Longer enumerations are
    more likely one rambling question than separate topics, and are left whole."""
    drop = _speaker_tokens(set(named))
    pieces = [p.strip() for p in _SPLIT.split(text) if any(t not in drop for t in tokenize(p))]
    return pieces if 2 <= len(pieces) <= MAX_PARTS else []


def _speaker_tokens(named: set[str]) -> set[str]:
    return {tok for speaker in named for tok in tokenize(speaker)}


def _query_tokens(text: str, entity_weight: float, drop: set[str]) -> tuple[list[str], dict[str, float]]:
    """Tokens of the query without the speakers' names (the speaker signal covers them: as
    words they would match every line that person said); other names weigh more."""
    tokens = [tok for tok in tokenize(text) if tok not in drop]
    weights: dict[str, float] = {}
    if entity_weight != 1.0:
        for match in _NAME.finditer(text):
            if match.start() == 0 or text[: match.start()].rstrip().endswith((".", "?", "!")):
                continue
            for tok in tokenize(match.group(1)):
                weights[tok] = entity_weight
    return tokens, weights


def named_speakers(query: str, mirror: Mirror) -> set[str]:
    """The known speakers (lowercased) that `query` names, by full or first name.

    In a user/assistant chat (turns by both roles) a question that names nobody speaks as the
    user: "my"/"I" mean the user's turns, "you" the assistant's."""
    if not mirror.speakers:
        return set()
    words = {w.lower().removesuffix("'s") for w in re.findall(r"[\w']+", query)}
    named = set()
    for speaker in mirror.speakers:
        first = speaker.split()[0]
        if speaker in words or first in words:
            named.add(speaker)
    if not named and all(role in mirror.speakers for role in ROLE_PRONOUNS):
        named = {role for role, pronouns in ROLE_PRONOUNS.items() if words & pronouns}
    return named


def _spread_to_neighbours(mirror, fused, sources, mask, share: float, top: int) -> None:
    """Lift each neighbour of a leading row `share` of the way up to that row's score: a turn
    that says nothing alone ("yes, we named him Biscuit") rises with the turn it answers, but
    never above it, and near-equal neighbours barely move."""
    leaders = sorted(fused, key=lambda row: -fused[row])[:top]
    lifted: dict[int, float] = {}
    for row in leaders:
        for other in mirror.neighbours(row):
            if mask[other]:
                own = fused.get(other, 0.0)
                if fused[row] > own:
                    lifted[other] = max(lifted.get(other, own), own + share * (fused[row] - own))
    for row, score in lifted.items():
        fused[row] = score
        sources.setdefault(row, []).append("context")


def _importance(memory) -> float:
    value = memory.metadata.get("importance") if memory is not None else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return max(0.0, min(1.0, float(value)))
    return KIND_IMPORTANCE.get(memory.kind, 0.0) if memory is not None else 0.0
