"""What a hybrid search ranks does not grow with k: a turn asks for 64+ memories, and pools of 3k
per list had it score ~500 rows a search at 10k memories. Counted, never timed: the rows each list
asks for, the rows given a prior, the IDF sums the `information` cache saves, the comparisons the
near-duplicate step makes."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone

import numpy as np

import memory.lexical as lexical
from memory import Memory
from memory.mirror import Mirror
from memory.retrieval import DEFAULT_WEIGHTS, _distinct, hybrid_rank, parse_query

NOW = datetime(2026, 5, 20, 15, tzinfo=timezone.utc)
TOPICS = ["garden", "marathon", "guitar", "bakery", "tokyo", "invoice", "puppy", "novel", "chess", "violin"]


def _mirror(n: int) -> Mirror:
    """`n` turns in sessions of 20, every one saying "garden" (so BM25 matches them all)."""
    rng = random.Random(5)
    start = NOW - timedelta(days=60)
    return Mirror(Memory(f"the garden and the {rng.choice(TOPICS)} {rng.choice(TOPICS)} note {i}", session=f"s{i // 20}",
                         created_at=start + timedelta(minutes=i)) for i in range(n))


def _rank(mirror: Mirror, k: int) -> tuple[list, list[int], int]:
    """hybrid_rank with a vector list of the first rows (cosines falling): the ranked rows, the `n`
    each vector call asked for, and how many rows were given a prior (one `information` each)."""
    asked: list[int] = []

    def vector(since, until, n, which):
        asked.append(n)
        return [[(row, 0.9 - row / 10_000) for row in range(min(n, mirror.size))] for _ in which]

    counted = 0
    information = mirror.lexical.information

    def counting(row: int) -> float:
        nonlocal counted
        counted += 1
        return information(row)

    mirror.lexical.information = counting
    query = parse_query("what about the garden?", mirror, NOW)
    ranked = hybrid_rank(mirror, query, k, mirror.alive.copy(), vector, NOW)
    return ranked, asked, counted


def test_the_candidate_pool_stays_fixed_when_a_turn_asks_for_64():
    mirror = _mirror(1000)
    w = DEFAULT_WEIGHTS
    ranked, asked, prior_rows = _rank(mirror, 71)   # recall_k 64 plus the turns already in the prompt
    assert len(ranked) == 71
    pool = max(w.candidates, 71)       # k past the pool: the vector list alone can still fill k
    assert asked == [pool]             # 3k (213) before
    # a vector and a BM25 list of `pool` rows each, plus the neighbours of `leaders` rows
    assert prior_rows <= 2 * pool + 2 * w.leaders


def test_a_small_k_asks_for_the_pool_and_a_large_one_still_gets_k():
    mirror = _mirror(1000)
    assert _rank(mirror, 10)[1] == [DEFAULT_WEIGHTS.candidates]
    ranked, asked, _ = _rank(mirror, 150)
    assert asked == [150] and len(ranked) == 150


def test_near_duplicates_found_by_prefix_match_the_all_pairs_rule():
    rng = random.Random(11)
    vocab = [f"w{i}" for i in range(14)]
    base = [rng.sample(vocab, rng.randint(1, 9)) for _ in range(25)]
    texts = []
    for words in base:   # each set a few times, with a word or two changed
        texts.append(" ".join(words))
        for _ in range(3):
            changed = list(words)
            if changed and rng.random() < 0.6:
                changed[rng.randrange(len(changed))] = rng.choice(vocab)
            if rng.random() < 0.5:
                changed.append(rng.choice(vocab))
            texts.append(" ".join(changed))
    texts += ["ok then", "hi"]   # stop words only: no words at all
    mirror = Mirror(Memory(t, created_at=NOW - timedelta(minutes=i)) for i, t in enumerate(texts))
    order = list(range(len(texts)))
    rng.shuffle(order)
    for dedupe in (0.5, 0.8, 0.9, 1.0):
        for k in (5, 30, len(texts)):
            assert _distinct(mirror, order, k, dedupe) == _all_pairs(mirror, order, k, dedupe)


def _all_pairs(mirror: Mirror, ordered: list[int], k: int, dedupe: float) -> list[int]:
    """The rule `_distinct` keeps, by comparing every row with every row kept before it."""
    kept, first, repeats = [], [], []
    for row in ordered:
        words = frozenset(mirror.lexical.signature(row))
        if words and any(len(words & other) >= dedupe * len(words | other) for other in kept):
            repeats.append(row)
            continue
        kept.append(words)
        first.append(row)
        if len(first) == k:
            return first
    return (first + repeats)[:k]


def test_a_replaced_row_keeps_the_other_rows_information_cached(monkeypatch):
    index = lexical.LexicalIndex()
    rng = random.Random(2)
    for row in range(1000):
        index.add(row, " ".join(rng.choices(TOPICS, k=4)) + f" w{row}")
    before = [index.information(row) for row in range(200)]
    sums = itertools.count()
    idf = lexical._idf
    monkeypatch.setattr(lexical, "_idf", lambda df, n: (next(sums), idf(df, n))[1])
    index.prune({999})                   # a session summary replaced: its old row dies ...
    index.add(1000, "garden summary")    # ... and the new one is added
    after = [index.information(row) for row in range(200)]
    assert next(sums) == 0               # nothing summed again
    assert np.allclose(before, after)
    for row in range(1001, 1020):        # 2% more rows: the cache is begun again
        index.add(row, "more garden notes")
    index.information(0)
    assert next(sums) > 1
