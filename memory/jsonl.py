"""Memories as JSON Lines: one `Memory.to_dict()` object per line, UTF-8.

Embeddings are not written: the importing store embeds the texts again with its own embedder,
so an export stays small, readable and independent of the model.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Iterable, Iterator, Union

from memory.records import Memory

Target = Union[str, "os.PathLike[str]", IO[str]]


@contextlib.contextmanager
def _opened(target: Target, mode: str) -> Iterator[IO[str]]:
    if isinstance(target, (str, os.PathLike)):
        with open(Path(target).expanduser(), mode, encoding="utf-8") as fp:
            yield fp
    else:
        yield target


def write_jsonl(memories: Iterable[Memory], target: Target) -> int:
    """Write `memories` to a path or text file; returns how many were written."""
    written = 0
    with _opened(target, "w") as fp:
        for memory in memories:
            fp.write(json.dumps(memory.to_dict(), ensure_ascii=False) + "\n")
            written += 1
    return written


def read_jsonl(source: Target) -> Iterator[Memory]:
    """The memories in a path or text file; ValueError naming the line if one is malformed."""
    with _opened(source, "r") as fp:
        for number, line in enumerate(fp, start=1):
            if isinstance(line, bytes):
                line = line.decode("utf-8")
            if not line.strip():
                continue
            try:
                memory = Memory.from_dict(json.loads(line))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"line {number}: not a memory record ({exc})") from exc
            yield memory
