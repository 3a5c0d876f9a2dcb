"""Lookups that read a snapshot's mapped arrays in place instead of rebuilding Python dicts.

Profiling a 100k-memory snapshot load showed no single slow step: the time went to building
~100k-entry dicts and Counters one after another (the BM25 vocabulary, two document-frequency
tables, each row's tokens: ~70% of decoding) and each costs a string object per entry. A search
reads a few dozen of those entries, so these classes answer from the arrays themselves:

    SortedTokens  a token -> value table (bm25s vocabulary ids, document frequencies): tokens
                  sorted in one blob, found by binary search (str order is UTF-8 byte order)
    MappedTokens  row -> that row's space-joined tokens, sliced from one blob on read; writes go
                  to a dict laid over it, so it behaves as the dict it stands for
"""

from __future__ import annotations

import bisect
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:
    import numpy as np

_MISSING = object()


class _Keys:
    """The i-th sorted token, decoded on access (what `bisect` probes: ~17 of 100k)."""

    def __init__(self, blob: "np.ndarray", offsets: "np.ndarray") -> None:
        self._blob, self._offsets = blob, offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self._blob[int(self._offsets[i]) : int(self._offsets[i + 1])].tobytes().decode("utf-8")


class SortedTokens:
    """A read-only token -> int table (the `dict.get` a search uses) over sorted mapped arrays."""

    def __init__(self, blob: "np.ndarray", offsets: "np.ndarray", values: "np.ndarray") -> None:
        if len(offsets) != len(values) + 1:
            raise ValueError(f"a token table with {len(offsets) - 1} tokens and {len(values)} values")
        self._keys, self.values = _Keys(blob, offsets), values
        self.blob, self.offsets = blob, offsets

    @classmethod
    def encode(cls, table: "dict[str, int] | SortedTokens") -> "tuple[np.ndarray, np.ndarray, np.ndarray]":
        """(blob, offsets, values) of `table`, tokens sorted: what the constructor takes."""
        import numpy as np

        if isinstance(table, SortedTokens):
            return np.asarray(table.blob), np.asarray(table.offsets), np.asarray(table.values)
        keys = sorted(table)
        encoded = [k.encode("utf-8") for k in keys]
        sizes = np.fromiter((len(k) for k in encoded), np.int64, len(encoded))
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        values = np.fromiter((table[k] for k in keys), np.int64, len(keys))
        return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets, values

    def get(self, token: str, default: Any = None) -> Any:
        at = bisect.bisect_left(self._keys, token)
        if at < len(self._keys) and self._keys[at] == token:
            return int(self.values[at])
        return default

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self.get(token, _MISSING) is not _MISSING

    def __len__(self) -> int:
        return len(self.values)

    def __bool__(self) -> bool:
        return len(self.values) > 0

    def items(self) -> Iterator[tuple[str, int]]:
        return zip((self._keys[i] for i in range(len(self))), self.values.tolist())


class MappedTokens(MutableMapping):
    """row -> space-joined tokens: the saved rows sliced from a blob on read, changes in a dict."""

    def __init__(self, blob: "np.ndarray", spans: "np.ndarray") -> None:
        self._blob, self._spans = blob, spans  # spans[row] = (start, end), start -1 for no tokens
        self._over: dict[int, Any] = {}
        self._gone: set[int] = set()

    @classmethod
    def encode(cls, tokens: Iterable[tuple[int, str]], size: int) -> "tuple[np.ndarray, np.ndarray]":
        """(blob, spans) for rows 0..size-1 from (row, space-joined tokens) pairs."""
        import numpy as np

        spans = np.full((size, 2), -1, dtype=np.int64)
        parts, at = [], 0
        for row, text in tokens:
            data = text.encode("utf-8")
            spans[row] = (at, at + len(data))
            parts.append(data)
            at += len(data)
        return np.frombuffer(b"".join(parts), dtype=np.uint8), spans

    def _saved(self, row: int) -> Any:
        if row in self._gone or not 0 <= row < len(self._spans):
            return _MISSING
        start, end = self._spans[row].tolist()
        return _MISSING if start < 0 else self._blob[start:end].tobytes().decode("utf-8")

    def get(self, row: int, default: Any = None) -> Any:
        value = self._over.get(row, _MISSING)
        if value is _MISSING:
            value = self._saved(row)
        return default if value is _MISSING else value

    def __getitem__(self, row: int) -> Any:
        value = self.get(row, _MISSING)
        if value is _MISSING:
            raise KeyError(row)
        return value

    def __contains__(self, row: object) -> bool:
        return isinstance(row, int) and self.get(row, _MISSING) is not _MISSING

    def __setitem__(self, row: int, tokens: Any) -> None:
        self._over[row] = tokens
        self._gone.discard(row)

    def __delitem__(self, row: int) -> None:
        if row not in self:
            raise KeyError(row)
        self._over.pop(row, None)
        if self._saved(row) is not _MISSING:
            self._gone.add(row)

    def __iter__(self) -> Iterator[int]:
        import numpy as np

        for row in np.flatnonzero(self._spans[:, 0] >= 0).tolist():
            if row not in self._gone and row not in self._over:
                yield row
        yield from self._over

    def __len__(self) -> int:
        return sum(1 for _ in self)


class MappedSessions(MutableMapping):
    """session -> its (time, row) turns in order, each session's list built when first read (a
    search reads the sessions of a few hits; building all ~5k lists at load made 100k tuples)."""

    def __init__(self, names: list[Any], sizes: "np.ndarray", rows: "np.ndarray", times: "np.ndarray") -> None:
        import numpy as np

        if len(names) != len(sizes) or int(sizes.sum()) != len(rows):
            raise ValueError("the snapshot's sessions do not add up to its session rows")
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._where: dict[Any, tuple[int, int]] = dict(zip(names, zip(starts.tolist(), sizes.tolist())))
        self._built: dict[Any, list[tuple[float, int]]] = {}
        self._rows, self._times = rows, times

    def __getitem__(self, name: Any) -> list[tuple[float, int]]:
        turns = self._built.get(name)
        if turns is None:
            start, size = self._where.pop(name)  # KeyError: no such session
            rows = self._rows[start : start + size]
            turns = self._built[name] = list(zip(self._times[rows].tolist(), rows.tolist()))
        return turns

    def __setitem__(self, name: Any, turns: list[tuple[float, int]]) -> None:
        self._where.pop(name, None)
        self._built[name] = turns

    def __delitem__(self, name: Any) -> None:
        if self._where.pop(name, None) is None:
            del self._built[name]

    def __iter__(self) -> Iterator[Any]:
        yield from list(self._built)
        yield from list(self._where)

    def __len__(self) -> int:
        return len(self._built) + len(self._where)
