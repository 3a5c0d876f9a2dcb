"""Coding: code answers always come out as fenced code, and the code is kept as an artifact.

Small models often forget the fence or stop mid-block; `ensure_fenced` repairs both so the face
can always highlight, copy and run what it shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generator

from assistant.chains.base import ChainResult, ChainRun, NewArtifact, PromptChain, short_title, stream_model
from assistant.events import Event, Token

SYSTEM = (
    "You are an expert Python programmer. Answer with complete, working code in a single fenced "
    "```python block, then explain it in one or two sentences. Keep the code short and correct."
)
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


def extract_code(text: str) -> str:
    """The longest fenced block: the answer's main code."""
    blocks = [m.group(2).strip() for m in FENCE_RE.finditer(text)]
    return max(blocks, key=len) if blocks else ""


def code_title(code: str, request: str) -> str:
    match = re.search(r"^\s*(?:def|class)\s+(\w+)", code, re.M)
    return f"{match.group(1)}.py" if match else short_title(request)


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


@dataclass
class CodingChain(PromptChain):
    def finish(self, text: str) -> str:
        return ensure_fenced(text)

    def run(self, run: ChainRun, messages) -> Generator[Event, None, ChainResult]:
        text, tokens = yield from fenced_stream(stream_model(run.model, messages))
        text = self.finish(text)
        return ChainResult(text=text, artifacts=self.artifacts(run, text), tokens=tokens)

    def artifacts(self, run: ChainRun, text: str) -> tuple[NewArtifact, ...]:
        code = extract_code(text)
        return (NewArtifact(kind="code", title=code_title(code, run.request), content=code),) if code else ()


def coding_chain() -> CodingChain:
    return CodingChain(
        name="coding",
        description="writing, fixing and explaining code",
        prefix="/code",
        system_prompt=SYSTEM,
    )
