"""Hybrid ranking: vector + BM25 lists fused by reciprocal rank, then time, speaker, neighbouring
turns, recency and importance. No model calls besides the one query embedding the store makes.

    lists   vector top-N (Chroma), BM25 top-N (mirror); when the query names a time ("last week",
            "in May") the same two again restricted to that window
    fuse    score(m) = sum over lists of weight / (rrf_k + rank)
    speaker memories said by a person the query names get a bonus
    context a memory next to a strong one in the same session (the turn before or after it) inherits
            part of its score, so "we named him Biscuit" surfaces with "did you get a dog?"
    prior   x (1 + recency * e^(-age/recency_days)) x (1 + importance * importance(m))

`Ranked.score` is the fused score scaled to [0, 1] (1 = first in every list).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable

from memory.lexical import tokenize
from memory.mirror import Mirror
from memory.timeparse import find_time, strip_phrase

if TYPE_CHECKING:
    import numpy as np

KIND_IMPORTANCE = {"fact": 0.5, "summary": 0.3, "artifact": 0.2, "turn": 0.0}
_NAME = re.compile(r"\b([A-Z][a-z]+(?:'s)?)\b")


@dataclass(frozen=True)
class Weights:
    rrf_k: int = 60
    vector: float = 1.0
    lexical: float = 1.0
    window: float = 1.0
    speaker: float = 0.5
    neighbour: float = 0.5
    recency: float = 0.05
    recency_days: float = 30.0
    importance: float = 0.1
    informative: float = 1.0
    informative_half: float = 20.0
    entity: float = 1.5
    magnitude: float = 1.0
    candidates: int = 50


DEFAULT_WEIGHTS = Weights()


@dataclass
class Ranked:
    row: int
    score: float
    similarity: float | None
    sources: list[str] = field(default_factory=list)


# vector(since, until, n) -> [(row, cosine)], best first, already filtered by the caller's filters
VectorSearch = Callable[[datetime | None, datetime | None, int], list[tuple[int, float]]]


def hybrid_rank(
    mirror: Mirror,
    query: str,
    k: int,
    mask: "np.ndarray",
    vector: VectorSearch,
    now: datetime,
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[Ranked]:
    w = weights
    n = max(w.candidates, 3 * k)
    window = find_time(query, now)
    text = strip_phrase(query, window)
    named = named_speakers(query, mirror)
    tokens, token_weights = _query_tokens(text, w.entity, _speaker_tokens(named))
    bm25 = mirror.lexical.scores(tokens, mirror.size, token_weights) if tokens else None

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

    hits = vector(None, None, n)
    similarity.update(hits)
    add_list("vector", [row for row, _ in hits], w.vector, [c for _, c in hits])
    if bm25 is not None:
        rows = _top(bm25, mask, n)
        add_list("bm25", rows, w.lexical, [float(bm25[r]) for r in rows])
    if window is not None:
        created = mirror.created
        in_window = mask & (created >= window.start.timestamp()) & (created < window.end.timestamp())
        if in_window.any():
            strength = w.window * window.strength
            windowed = vector(window.start, window.end, n)
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
        _spread_to_neighbours(mirror, fused, sources, mask, w.neighbour, top=max(2 * k, 20))

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

    best = sorted(fused, key=lambda row: (-fused[row], row))[:k]
    scale = (total_weight / (w.rrf_k + 1)) * (1 + w.speaker) * (1 + w.recency) * (1 + w.importance) * (1 + w.informative)
    scale = scale or 1.0
    return [Ranked(row, min(1.0, fused[row] / scale), similarity.get(row), sources[row]) for row in best]


def _top(scores: "np.ndarray", mask: "np.ndarray", n: int) -> list[int]:
    import numpy as np

    masked = np.where(mask & (scores > 0), scores, 0.0)
    positive = int(np.count_nonzero(masked))
    if positive == 0:
        return []
    n = min(n, positive)
    part = np.argpartition(-masked, n - 1)[:n]
    return [int(r) for r in part[np.argsort(-masked[part], kind="stable")]]


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
    """The known speakers (lowercased) that `query` names, by full or first name."""
    if not mirror.speakers:
        return set()
    words = {w.lower().removesuffix("'s") for w in re.findall(r"[\w']+", query)}
    named = set()
    for speaker in mirror.speakers:
        first = speaker.split()[0]
        if speaker in words or first in words:
            named.add(speaker)
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
