"""BM25 over a namespace's memories, kept current one write at a time.

bm25s (a maintained BM25 library on sparse matrices) scores; this module keeps the index
incremental. Documents live in *segments*, each a bm25s index over some rows. New rows wait in
a pending list and become a small segment at the next search; a segment that has grown to a
quarter of the one before it is merged into it (rebuilt from cached tokens), so there are
O(log n) segments and each row is re-indexed O(log n) times, like an LSM tree.

Segment-local IDF would under-rate fresh rows in tiny segments, so scores use *global*
statistics: each query token is scored per segment by bm25s and rescaled by
idf_global(t) / idf_segment(t) (Lucene's idf; per-segment avgdl is kept).
Deleted rows are masked by the caller and dropped from segments when they merge.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
MERGE_RATIO = 4
# A short English stop list: function words carry no topic. Kept small on purpose: question
# words ("when", "where") are dropped, content words never are.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves s t d ll m re ve don didn doesn isn wasn weren hasn haven hadn won wouldn
    shouldn couldn also ever really oh yeah yes ok okay hey hi hello""".split()
)

_stemmer = None


def _stem_words(words: list[str]) -> list[str]:
    global _stemmer
    if _stemmer is None:
        try:
            import Stemmer

            _stemmer = Stemmer.Stemmer("english").stemWords
        except ImportError:  # PyStemmer is optional: plain lowercase words still work
            _stemmer = lambda ws: ws  # noqa: E731
    return _stemmer(words)


def tokenize(text: str) -> list[str]:
    """Lowercased, stop-worded, stemmed word tokens."""
    words = [w for w in TOKEN.findall(text.lower()) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    return _stem_words(words) if words else []


INFORMATION_DRIFT = 0.01  # a 1% larger index moves a row's summed IDF by well under 1%


def _idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class _Segment:
    def __init__(self, rows: list[int], tokens: Sequence[list[str]]) -> None:
        import bm25s
        import numpy as np

        self.row_array = np.asarray(rows, dtype=np.int64)  # built once, not per query
        self.n = len(rows)
        self.df: Counter[str] = Counter()
        for toks in tokens:
            self.df.update(set(toks))
        self.index = None   # rows of stop words only ("hi", "ok then") give bm25s nothing to index
        if self.df:
            self.index = bm25s.BM25(method="lucene")
            self.index.index([list(t) for t in tokens], show_progress=False)


class LexicalIndex:
    """Incremental BM25 over rows 0..n-1 (row numbers are the caller's)."""

    def __init__(self) -> None:
        self._tokens: dict[int, list[str] | str] = {}  # str: space-joined, as a snapshot stores them
        self._segments: list[_Segment] = []
        self._pending: list[int] = []
        self._df: Counter[str] = Counter()  # global document frequency over indexed + pending rows
        self._n = 0
        self._information: dict[int, float] = {}  # see `information`
        self._information_n = 0  # rows indexed when that cache was begun
        self._idf_cache: dict[str, float] = {}  # token -> global IDF, begun again with `_information`

    def add(self, row: int, text: str) -> None:
        toks = tokenize(text)
        self._tokens[row] = toks
        self._pending.append(row)
        self._df.update(set(toks))
        self._n += 1
        self._drifted()

    def information(self, row: int) -> float:
        """How much a row says: the summed global IDF of its distinct tokens (0 for none).

        Cached: every search asks it of a few hundred rows, and computing it afresh after each turn's
        write cost ~30 ms a search at 10k memories. Adding rows moves every IDF a little, so the cache
        is begun again once the index has grown or shrunk by INFORMATION_DRIFT since it was."""
        if not self._information:
            self._information_n = self._n
        value = self._information.get(row)
        if value is None:
            toks = self._toks(row)
            if not toks or self._n == 0:
                value = 0.0
            else:
                value = sum(self._token_idf(t) for t in set(toks))
            self._information[row] = value
        return value

    def _token_idf(self, tok: str) -> float:
        """Global IDF, cached with `information` (a search sums it over a few hundred rows' tokens)."""
        value = self._idf_cache.get(tok)
        if value is None:
            value = self._idf_cache[tok] = _idf(max(self._df[tok], 1), self._n)
        return value

    def signature(self, row: int) -> tuple[str, ...]:
        """The row's distinct tokens, rarest first (then alphabetical): equal for texts that differ
        only in stop words, case, punctuation or word order. Rarest first, a prefix of it is what
        sets two rows apart (retrieval's near-duplicate step compares rows sharing a prefix word)."""
        df = self._df
        return tuple(sorted(set(self._toks(row)), key=lambda tok: (df[tok], tok)))

    def scores(self, query: str | list[str], size: int, weights: dict[str, float] | None = None) -> "np.ndarray":
        """BM25 of every row for `query` (a text or tokens), as an array of length `size`."""
        import numpy as np

        self._flush()
        out = np.zeros(size, dtype=np.float32)
        toks = tokenize(query) if isinstance(query, str) else query
        counts = Counter(toks)
        if not counts or self._n == 0:
            return out
        for segment in self._segments:
            if segment.index is None:
                continue
            seg_scores = None
            for tok, count in counts.items():
                tid = segment.index.vocab_dict.get(tok)
                seg_df = segment.df.get(tok, 0)
                if tid is None or seg_df == 0:
                    continue
                ratio = _idf(max(self._df[tok], 1), self._n) / _idf(seg_df, segment.n)
                ratio *= count * (weights.get(tok, 1.0) if weights else 1.0)
                contribution = segment.index.get_scores_from_ids([tid]) * ratio
                seg_scores = contribution if seg_scores is None else seg_scores + contribution
            if seg_scores is not None:
                rows = segment.row_array
                keep = rows < size
                out[rows[keep]] += seg_scores[keep]
        return out

    @property
    def pending(self) -> int:
        """Rows added but not yet indexed: the next search indexes them."""
        return len(self._pending)

    def build(self) -> None:
        """Index pending rows now, so the next search does not (a whole namespace's rows are
        pending after open: ~0.25 s at 10k memories, ~6 s at 100k, on 2 cores)."""
        self._flush()

    def rebuild(self, live_rows: Sequence[int]) -> None:
        """Drop dead rows: one segment over `live_rows` (used after compaction)."""
        live = [r for r in live_rows if r in self._tokens]
        self._tokens = {r: self._tokens[r] for r in live}
        self._df = Counter()
        for r in live:
            self._df.update(set(self._toks(r)))
        self._n = len(live)
        self._clear_information()
        self._segments, self._pending = [], []
        if live:
            self._segments = [_Segment(live, [self._toks(r) for r in live])]

    def prune(self, dead: set[int]) -> None:
        """Subtract dead rows from the global statistics (their postings stay until a merge)."""
        for row in dead:
            toks = self._toks(row)
            self._information.pop(row, None)
            if self._tokens.pop(row, None) is not None:
                self._df.subtract(set(toks))
                self._n -= 1
                if row in self._pending:
                    self._pending.remove(row)
        self._drifted()

    def _clear_information(self) -> None:
        self._information.clear()
        self._idf_cache.clear()

    def _drifted(self) -> None:
        """Begin the `information` cache again once the row count has moved INFORMATION_DRIFT from
        where it was begun. Every few turns a session's summary is replaced (a delete and an add):
        clearing on every delete had the next search recompute a few hundred rows (~30 ms at 10k)."""
        if abs(self._n - self._information_n) > self._information_n * INFORMATION_DRIFT:
            self._clear_information()

    def _toks(self, row: int) -> list[str]:
        toks = self._tokens.get(row, [])
        return toks.split() if isinstance(toks, str) else toks

    def _flush(self) -> None:
        if self._pending:
            rows, self._pending = self._pending, []
            self._segments.append(_Segment(rows, [self._toks(r) for r in rows]))
        while len(self._segments) >= 2 and self._segments[-1].n * MERGE_RATIO >= self._segments[-2].n:
            last = self._segments.pop()
            prev = self._segments.pop()
            rows = [r for r in prev.row_array.tolist() + last.row_array.tolist() if r in self._tokens]
            if rows:
                self._segments.append(_Segment(rows, [self._toks(r) for r in rows]))
