"""Highlighted, escaped code for modals and viewers (Rich Syntax over cleaned text)."""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax

from assistant.tui.safe import clean

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


def highlighted(text: str, lexer: str, *, line_numbers: bool = True) -> Syntax:
    return Syntax(
        clean(text), lexer, theme="ansi_dark", line_numbers=line_numbers, word_wrap=True,
        background_color="default", indent_guides=False,
    )
