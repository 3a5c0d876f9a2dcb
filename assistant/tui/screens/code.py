"""Highlighted, escaped code for modals and viewers (Rich Syntax over cleaned text)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from assistant.tui.safe import clean

if TYPE_CHECKING:
    from rich.syntax import Syntax

LEXERS = {"code": "python", "draft": "markdown", "analysis": "markdown", "note": "markdown", "table": "text",
          "output": "text", "chart": "text"}
SUFFIX_LEXERS = {".py": "python", ".md": "markdown", ".json": "json", ".sql": "sql", ".sh": "bash",
                 ".js": "javascript", ".html": "html", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}


def lexer_for(kind: str, path: str | None = None, language: str | None = None) -> str:
    if language:
        return language
    if path and Path(path).suffix.lower() in SUFFIX_LEXERS:
        return SUFFIX_LEXERS[Path(path).suffix.lower()]
    return LEXERS.get(kind, "text")


def highlighted(text: str, lexer: str, *, dark: bool = True, line_numbers: bool = True) -> Syntax:
    from rich.syntax import (
        Syntax,  # pygments: loaded when code is first shown, not at start-up
    )

    return Syntax(
        clean(text), lexer, theme="monokai" if dark else "friendly", line_numbers=line_numbers, word_wrap=True,
        background_color="default", indent_guides=False,
    )
