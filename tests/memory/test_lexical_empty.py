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


def test_a_rows_information_stays_cached_across_small_writes():
    """Each turn writes a memory and every search asks `information` of a few hundred rows:
    recomputing them all after every write cost ~30 ms a search at 10k memories. The cache is
    begun again only once the index has grown by INFORMATION_DRIFT."""
    from memory.lexical import INFORMATION_DRIFT, LexicalIndex

    index = LexicalIndex()
    for row in range(300):
        index.add(row, f"note {row} about topic{row % 17} and the garden")
    before = index.information(5)
    index.add(300, "another note about the garden")
    assert 5 in index._information and index.information(5) == before
    grown = int(300 * INFORMATION_DRIFT) + 2
    for row in range(301, 301 + grown):
        index.add(row, f"later note {row} about the garden")
    assert 5 not in index._information  # begun again: every IDF has moved by now
    assert index.information(5) != before
