"""A store whose memories are all stop words ("hi", "ok then") still searches: BM25 has nothing to
index there, and must say so with zero scores instead of failing inside bm25s."""

from memory.lexical import LexicalIndex


def test_rows_of_stop_words_only_score_zero():
    index = LexicalIndex()
    index.add(0, "hi")
    index.add(1, "ok then")
    assert index.scores("hello there", 2).tolist() == [0.0, 0.0]
    index.add(2, "greenhouse irrigation budget")
    scores = index.scores("greenhouse budget", 3)
    assert scores[2] > 0 and scores[0] == scores[1] == 0
