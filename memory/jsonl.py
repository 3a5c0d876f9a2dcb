"""Memories as JSON Lines: one `Memory.to_dict()` object per line, UTF-8.

Embeddings are not written: the importing store embeds the texts again with its own embedder,
so an export stays small, readable and independent of the model.

Reading checks every line the way `memory add` checks its text (non-empty, not binary, at most
`max_chars` characters) and never holds more than one over-long line's first bytes in memory.
A record without an id gets one derived from its content, so importing a file again replaces
what the first import stored instead of duplicating it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Union

from memory.records import Memory

Target = Union[str, "os.PathLike[str]", IO[str], IO[bytes]]
MAX_TEXT_CHARS = 64_000  # the same default limit as a request (`max_request_chars`)
MAX_PROBLEMS_SHOWN = 5
_METADATA_BYTES = 1 << 20  # room on a line for everything besides the text


class ImportFileError(ValueError):
    """A JSON Lines file with bad lines; nothing of it was imported. `problems` name each line."""

    def __init__(self, source: str, problems: list[str], bad_lines: int) -> None:
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = f" (and {bad_lines - MAX_PROBLEMS_SHOWN} more bad lines)" if bad_lines > MAX_PROBLEMS_SHOWN else ""
        super().__init__(f"{source}: nothing imported, {bad_lines} bad line(s): {shown}{more}")
        self.problems = problems
        self.bad_lines = bad_lines


@contextlib.contextmanager
def _opened(target: Target, mode: str) -> Iterator[IO]:
    if isinstance(target, (str, os.PathLike)):
        if "b" in mode:
            with open(Path(target).expanduser(), mode) as fp:
                yield fp
        else:
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


@contextlib.contextmanager
def replayable(source: Target) -> Iterator[Callable[[], contextlib.AbstractContextManager[IO]]]:
    """Something that opens `source` from its start, as often as asked: a path is reopened, a
    seekable stream rewound, a pipe (stdin) spooled to a temporary file first."""
    if isinstance(source, (str, os.PathLike)):
        yield lambda: _opened(source, "rb")
        return
    if source.seekable():
        start = source.tell()

        @contextlib.contextmanager
        def rewound() -> Iterator[IO]:
            source.seek(start)
            yield source

        yield rewound
        return
    binary = not isinstance(source, io.TextIOBase)
    with tempfile.SpooledTemporaryFile(32 << 20, mode="w+b" if binary else "w+", encoding=None if binary else "utf-8") as spool:
        shutil.copyfileobj(source, spool)

        @contextlib.contextmanager
        def spooled() -> Iterator[IO]:
            spool.seek(0)
            yield spool

        yield spooled


def _lines(fp: IO, limit: int) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, problem) for each line; an over-long line is skipped unread."""
    number = 0
    while True:
        raw = fp.readline(limit + 1)
        if not raw:
            return
        number += 1
        newline = b"\n" if isinstance(raw, bytes) else "\n"
        if len(raw) > limit and not raw.endswith(newline):
            while raw and not raw.endswith(newline):  # skip the rest of the line a chunk at a time
                raw = fp.readline(1 << 20)
            yield number, None, f"line {number}: longer than {limit} bytes (memories hold at most {limit - _METADATA_BYTES} characters)"
            continue
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, None, f"line {number}: not UTF-8 text (byte {exc.start + 1} of the line)"
                continue
        yield number, raw, None


def _content_id(data: dict) -> str:
    """A stable id for a record that has none: the same record always gets the same id."""
    key = json.dumps({k: data.get(k) for k in ("text", "kind", "session", "metadata", "created_at")},
                     sort_keys=True, ensure_ascii=False)
    return "imp-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def _memory(line: str, number: int, max_chars: int) -> Memory:
    try:
        data = json.loads(line)
        if isinstance(data, dict) and not data.get("id"):
            data = {**data, "id": _content_id(data)}
        memory = Memory.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"line {number}: not a memory record ({exc})") from None
    if not memory.text.strip():
        raise ValueError(f"line {number}: the text is empty")
    if len(memory.text) > max_chars:
        raise ValueError(f"line {number}: the text is {len(memory.text)} characters, over the {max_chars} limit")
    if "\x00" in memory.text:
        raise ValueError(f"line {number}: the text looks binary (it holds NUL characters)")
    return memory


def records(fp: IO, max_chars: int = MAX_TEXT_CHARS) -> Iterator[tuple[int, Memory | None, str | None]]:
    """(line number, memory, problem) for each non-blank line of an open JSON Lines file."""
    for number, line, problem in _lines(fp, max_chars * 4 + _METADATA_BYTES):
        if problem is not None:
            yield number, None, problem
        elif line.strip():
            try:
                yield number, _memory(line, number, max_chars), None
            except ValueError as exc:
                yield number, None, str(exc)


def check_jsonl(opener: Callable[[], contextlib.AbstractContextManager[IO]], name: str, max_chars: int) -> int:
    """How many records the file holds; ImportFileError (naming every bad line) if any is bad."""
    count, problems, bad = 0, [], 0
    with opener() as fp:
        for _, memory, problem in records(fp, max_chars):
            if problem is not None:
                bad += 1
                if len(problems) < MAX_PROBLEMS_SHOWN:
                    problems.append(problem)
            else:
                count += 1
    if bad:
        raise ImportFileError(name, problems, bad)
    return count


def read_jsonl(source: Target, max_chars: int = MAX_TEXT_CHARS) -> Iterator[Memory]:
    """The memories in a path or file; ValueError naming the line at the first bad one."""
    with _opened(source, "rb") as fp:
        for _, memory, problem in records(fp, max_chars):
            if problem is not None:
                raise ValueError(problem)
            yield memory
