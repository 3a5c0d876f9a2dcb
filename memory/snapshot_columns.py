"""A mirror as flat arrays and back, for `memory.snapshot`: what loads in milliseconds.

Unpickling a mirror rebuilds every Python object one at a time (~2 s at 100k memories on 2
cores, holding the GIL, so a background load still delays whatever runs beside it). Here every
per-row structure is a numpy array or one byte blob; decoding builds the dicts with bulk
constructors (`dict(zip(...))`, `str.split`) and leaves each memory's JSON in the blob until a
search reads that row.

Only the fields listed below are written. A Mirror, LexicalIndex or bm25s index with other
fields (a newer version of them) is not encoded and a snapshot is not decoded into one: the
store then rebuilds from the journal instead of searching a half-filled copy.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from memory.lexical import _Segment
from memory.mapped_lookup import MappedSessions, MappedTokens, SortedTokens
from memory.mirror import Mirror, Rows
from memory.records import Memory
from memory.vector_copy import VectorCopy

if TYPE_CHECKING:
    import numpy as np

MIRROR_FIELDS = {"rows", "row_of", "speaker", "speakers", "sessions", "lexical", "vectors", "dead", "_ts", "_alive",
                 "_kind"}
LEXICAL_FIELDS = {"_tokens", "_segments", "_pending", "_df", "_n", "_information", "_information_n", "_idf_cache"}
SEGMENT_FIELDS = {"row_array", "n", "df", "index"}
BM25_SETTINGS = ("method", "k1", "b", "delta", "idf_method", "dtype", "int_dtype", "backend", "csc_backend")
BM25_FIELDS = {*BM25_SETTINGS, "methods_requiring_nonoccurrence", "corpus", "_original_version", "nonoccurrence_array",
               "scores", "vocab_dict", "unique_token_ids_set"}
_UNREAD = object()


class Unknown(ValueError):
    """The mirror has fields this format does not know (another version of the code)."""


class MappedRows(Rows):
    """Rows whose memories stay as JSON in the snapshot's blob until read; a row never replaced
    is saved again from the blob, without re-encoding it."""

    def __init__(self, blob: "np.ndarray", offsets: "np.ndarray", alive: "np.ndarray") -> None:
        import numpy as np

        super().__init__()
        self._blob, self._offsets, self._saved = blob, offsets, len(alive)
        self._changed: set[int] = set()
        self._items = [_UNREAD] * len(alive)  # type: ignore[list-item]
        for row in np.flatnonzero(~alive).tolist():
            self._items[row] = None

    def __getitem__(self, row: int) -> Memory | None:
        if self._items[row] is _UNREAD:
            self._items[row] = self._slice(row)  # Rows decodes a str item on access
        return super().__getitem__(row)

    def __setitem__(self, row: int, memory: Memory | None) -> None:
        self._changed.add(row)
        super().__setitem__(row, memory)

    def raw(self, row: int) -> str | None:
        """The row's JSON (None for a deleted row), from the blob when the row was never replaced."""
        if row < self._saved and row not in self._changed and self._items[row] is not None:
            return self._slice(row)
        item = self._items[row]
        return _row_json(item) if item is not _UNREAD else self._slice(row)

    def _slice(self, row: int) -> str:
        start, end = int(self._offsets[row]), int(self._offsets[row + 1])
        return self._blob[start:end].tobytes().decode("utf-8")


def encode(mirror: Mirror) -> tuple[dict[str, "np.ndarray"], dict[str, Any]]:
    """(arrays, small JSON-able values) for `mirror`; raises Unknown for fields it does not know."""
    import numpy as np

    lexical = mirror.lexical
    lexical.build()  # pending rows become a segment: the snapshot holds indexed rows only
    _check(mirror, MIRROR_FIELDS)
    _check(lexical, LEXICAL_FIELDS)
    n = mirror.size
    rows = [_row_text(mirror.rows, r) for r in range(n)]
    arrays = {
        "ts": mirror.created.copy(), "alive": mirror.alive.copy(), "kind": mirror.kinds.copy(),
        "rows": _blob(rows), "row_offsets": _offsets(rows),
        "ids": _json(list(mirror.row_of)), "id_rows": np.fromiter(mirror.row_of.values(), np.int64, len(mirror.row_of)),
    }
    if not mirror.vectors.missing(mirror.alive) and n:  # else none: searches ask Chroma until one is saved with them
        arrays["vectors"] = mirror.vectors.dense(n)
    names = sorted({s for s in mirror.speaker if s is not None})
    code = {name: i for i, name in enumerate(names)}
    arrays["speaker"] = np.fromiter((code.get(s, -1) if s is not None else -1 for s in mirror.speaker), np.int32, n)
    sessions = list(mirror.sessions.items())
    arrays["session_rows"] = np.fromiter((row for _, turns in sessions for _, row in turns), np.int64)
    arrays["session_sizes"] = np.fromiter((len(turns) for _, turns in sessions), np.int64, len(sessions))
    tokens = ((row, t if isinstance(t, str) else " ".join(t)) for row, t in lexical._tokens.items())
    arrays["tokens"], arrays["token_spans"] = MappedTokens.encode(tokens, n)
    arrays["df_tokens"], arrays["df_counts"] = _counts(lexical._df)
    meta: dict[str, Any] = {"dead": mirror.dead, "speaker_names": names, "speakers": dict(mirror.speakers),
                            "sessions": [name for name, _ in sessions], "n_lexical": lexical._n, "segments": []}
    for i, segment in enumerate(lexical._segments):
        _check(segment, SEGMENT_FIELDS)
        arrays[f"s{i}.rows"] = np.asarray(segment.row_array, dtype=np.int64)
        _table(arrays, f"s{i}.df", SortedTokens.encode(segment.df))
        info = {"n": segment.n, "indexed": segment.index is not None}
        if segment.index is not None:
            index = segment.index
            _check(index, BM25_FIELDS)
            if index.nonoccurrence_array is not None or index.corpus is not None:
                raise Unknown("a bm25s index with non-occurrence scores or a corpus")
            vocab = SortedTokens.encode(index.vocab_dict)
            if not np.array_equal(np.sort(vocab[2]), np.arange(len(vocab[2]))):
                raise Unknown("the bm25s vocabulary ids are not 0..n-1")
            _table(arrays, f"s{i}.vocab", vocab)
            for part in ("data", "indices", "indptr"):
                arrays[f"s{i}.{part}"] = np.asarray(index.scores[part])
            info.update(num_docs=int(index.scores["num_docs"]), bm25={k: getattr(index, k) for k in BM25_SETTINGS})
        meta["segments"].append(info)
    return arrays, meta


def decode(arrays: dict[str, "np.ndarray"], meta: dict[str, Any]) -> Mirror:
    """The mirror `encode` saw, its rows read from `arrays` on demand (they may be a memory map)."""
    import numpy as np

    mirror = Mirror()
    _check(mirror, MIRROR_FIELDS)
    _check(mirror.lexical, LEXICAL_FIELDS)
    alive, ts = arrays["alive"], arrays["ts"]
    n = len(alive)
    capacity = max(1024, 1 << max(0, n - 1).bit_length())
    for name, source in (("_ts", ts), ("_alive", alive), ("_kind", arrays["kind"])):
        column = np.zeros(capacity, dtype=source.dtype)
        column[:n] = source
        setattr(mirror, name, column)
    mirror.rows = MappedRows(arrays["rows"], arrays["row_offsets"], alive)
    if "vectors" in arrays:
        if arrays["vectors"].ndim != 2 or len(arrays["vectors"]) != n:
            raise ValueError(f"the snapshot's vectors do not cover its {n} rows")
        mirror.vectors = VectorCopy(arrays["vectors"])
    mirror.row_of = dict(zip(_unjson(arrays["ids"]), arrays["id_rows"].tolist()))
    names = np.array(meta["speaker_names"] + [None], dtype=object)
    mirror.speaker = names[arrays["speaker"]].tolist()  # -1 picks the None at the end
    mirror.speakers = Counter(meta["speakers"])
    mirror.sessions = MappedSessions(meta["sessions"], arrays["session_sizes"], arrays["session_rows"], ts)
    mirror.dead = meta["dead"]
    lexical = mirror.lexical
    if arrays["token_spans"].shape != (n, 2):
        raise ValueError(f"the snapshot's token spans do not cover its {n} rows")
    lexical._tokens = MappedTokens(arrays["tokens"], arrays["token_spans"])
    lexical._df = _uncounts(arrays["df_tokens"], arrays["df_counts"])
    lexical._n = meta["n_lexical"]
    lexical._segments = [_segment(arrays, f"s{i}.", info) for i, info in enumerate(meta["segments"])]
    return mirror


def _segment(arrays: dict[str, "np.ndarray"], prefix: str, info: dict[str, Any]) -> _Segment:
    import bm25s

    segment = _Segment.__new__(_Segment)
    segment.row_array = arrays[prefix + "rows"]
    segment.n = info["n"]
    segment.df = _untable(arrays, prefix + "df")
    segment.index = None
    if info["indexed"]:
        index = bm25s.BM25(**info["bm25"])
        index.scores = {part: arrays[prefix + part] for part in ("data", "indices", "indptr")}
        index.scores["num_docs"] = info["num_docs"]
        index.vocab_dict = _untable(arrays, prefix + "vocab")
        index.unique_token_ids_set = range(len(index.vocab_dict))  # bm25s only asks `in` of it
        index.nonoccurrence_array = None  # set by `index()`; lucene has none
        _check(index, BM25_FIELDS)
        segment.index = index
    _check(segment, SEGMENT_FIELDS)
    return segment


def _check(obj: object, fields: set[str]) -> None:
    if set(vars(obj)) != fields:
        raise Unknown(f"{type(obj).__name__} has fields {sorted(set(vars(obj)) ^ fields)} this snapshot format does not know")


def _row_text(rows: Rows, row: int) -> str:
    """A row's JSON, "" for a deleted row (neither decoded nor re-encoded when it need not be)."""
    text = rows.raw(row) if isinstance(rows, MappedRows) else _row_json(rows._items[row])
    return text or ""


def _row_json(item: Memory | str | None) -> str | None:
    if item is None:
        return None
    return item if isinstance(item, str) else json.dumps(item.to_dict(), ensure_ascii=False)


def _blob(texts, sep: str = "") -> "np.ndarray":
    import numpy as np

    return np.frombuffer(sep.join(texts).encode("utf-8"), dtype=np.uint8)


def _offsets(texts: list[str]) -> "np.ndarray":
    import numpy as np

    sizes = np.fromiter((len(t.encode("utf-8")) for t in texts), np.int64, len(texts))
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _table(arrays: dict[str, "np.ndarray"], prefix: str, table: tuple) -> None:
    arrays[prefix + ".blob"], arrays[prefix + ".offsets"], arrays[prefix + ".values"] = table


def _untable(arrays: dict[str, "np.ndarray"], prefix: str) -> SortedTokens:
    return SortedTokens(arrays[prefix + ".blob"], arrays[prefix + ".offsets"], arrays[prefix + ".values"])


def _json(value: Any) -> "np.ndarray":
    return _blob([json.dumps(value, ensure_ascii=False)])


def _unjson(blob: "np.ndarray") -> Any:
    return json.loads(blob.tobytes())


def _counts(counter: Counter) -> tuple["np.ndarray", "np.ndarray"]:
    import numpy as np

    return _json(list(counter)), np.fromiter(counter.values(), np.int64, len(counter))


def _uncounts(tokens: "np.ndarray", counts: "np.ndarray") -> Counter:
    return Counter(dict(zip(_unjson(tokens), counts.tolist())))
