"""Fenced code in model answers: find it, repair the fence, stream it already fenced.

Small models often forget the fence or stop mid-block; `ensure_fenced` repairs both so the face
can always highlight, copy and run what it shows, and `fenced_stream` does the same while the
tokens are still arriving.
"""

from __future__ import annotations

import re
from typing import Generator

from assistant.events import Token

__all__ = ["FENCE_RE", "code_blocks", "ensure_fenced", "extract_code", "fenced_stream", "main_block", "replace_code"]

FENCE_RE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \w+ import|return\b|if |for |while |print\(|@|#|\w+\s*=|\w+\(.*\)\s*$)"
)


def ensure_fenced(text: str, language: str = "python") -> str:
    """Close an unclosed fence, or fence the code lines of an answer that has none."""
    text = text.strip()
    if not text:
        return text
    if "```" in text:
        if text.count("```") % 2 and not text.startswith("```") and _CODE_LINE.match(text.splitlines()[0]):
            text = f"```{language}\n{text}"  # code first, then a closing fence with no opening one
        if text.count("```") % 2:
            text += "\n```"
        return text
    lines = text.splitlines()
    code_idx = [i for i, line in enumerate(lines) if _CODE_LINE.match(line)]
    if not code_idx:
        return f"```{language}\n{text}\n```"
    start, end = code_idx[0], code_idx[-1]
    while end + 1 < len(lines) and (lines[end + 1].startswith((" ", "\t")) or not lines[end + 1].strip()):
        end += 1
    before, code, after = lines[:start], lines[start : end + 1], lines[end + 1 :]
    parts = ["\n".join(before).strip(), f"```{language}\n" + "\n".join(code).rstrip() + "\n```", "\n".join(after).strip()]
    return "\n\n".join(p for p in parts if p)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, in order."""
    return [(m.group(1).lower(), m.group(2).strip()) for m in FENCE_RE.finditer(text)]


def extract_code(text: str) -> str:
    """The longest fenced block: the answer's main code."""
    blocks = [code for _, code in code_blocks(text)]
    return max(blocks, key=len) if blocks else ""


def main_block(text: str) -> tuple[str, str]:
    """(language, code) of the longest fenced block; ("", "") when there is none."""
    blocks = code_blocks(text)
    return max(blocks, key=lambda b: len(b[1])) if blocks else ("", "")


def replace_code(text: str, old: str, new: str) -> str:
    """The answer with its main code block swapped for `new` (a repaired version)."""
    if old and old in text:
        return text.replace(old, new.rstrip(), 1)
    return f"```python\n{new.rstrip()}\n```"


def fenced_stream(source: Generator[Token, None, tuple[str, int]]) -> Generator[Token, None, tuple[str, int]]:
    """Pass tokens through, opening a fence when the reply starts straight with code and closing
    one left open, so what streams to the screen is already what `ensure_fenced` would produce."""
    emitted: list[str] = []
    buffer = ""
    decided = False

    def decide() -> Generator[Token, None, None]:
        nonlocal decided
        decided = True
        body = buffer.lstrip()
        if body and not body.startswith("```") and _CODE_LINE.match(body.splitlines()[0]):
            emitted.append("```python\n")
            yield Token("```python\n")
        if buffer:
            emitted.append(buffer)
            yield Token(buffer)

    while True:
        try:
            token = next(source)
        except StopIteration as stop:
            tokens = stop.value[1]
            break
        if decided:
            emitted.append(token.text)
            yield token
            continue
        buffer += token.text
        if "\n" in buffer.lstrip() or len(buffer) > 80:
            yield from decide()
    if not decided:
        yield from decide()
    if "".join(emitted).count("```") % 2:
        emitted.append("\n```")
        yield Token("\n```")
    return "".join(emitted), tokens
