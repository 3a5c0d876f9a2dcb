"""Display formatting shared by widgets and screens: local times, highlighted code."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.tui.safe import clean

if TYPE_CHECKING:
    from rich.syntax import Syntax

LEXERS = {"code": "python", "draft": "markdown", "analysis": "markdown", "note": "markdown", "table": "text",
          "output": "text", "chart": "text"}
SUFFIX_LEXERS = {".py": "python", ".md": "markdown", ".json": "json", ".sql": "sql", ".sh": "bash",
                 ".js": "javascript", ".html": "html", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def local_time(iso: str | None, default: str = "–") -> str:
    """A stored ISO timestamp (UTC) as local 'YYYY-MM-DD HH:MM'; unparseable text is shown cut short."""
    if not iso:
        return default
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso[:16]
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M")


def lexer_for(kind: str, path: str | None = None, language: str | None = None) -> str:
    """The Pygments lexer for an artifact: its language, its file suffix, or its kind."""
    if language:
        return language
    suffix = Path(path).suffix.lower() if path else ""
    return SUFFIX_LEXERS.get(suffix) or LEXERS.get(kind, "text")


def highlighted(text: str, lexer: str, *, dark: bool = True, line_numbers: bool = True) -> Syntax:
    """`text` (cleaned of control characters) as highlighted code for a Static.

    Imported here so Pygments' lexers load when code is first shown, not at start-up."""
    from rich.syntax import Syntax

    return Syntax(
        clean(text), lexer, theme="monokai" if dark else "friendly", line_numbers=line_numbers,
        word_wrap=True, background_color="default", indent_guides=False,
    )


def hard_breaks(markdown: str) -> str:
    """Keep the model's single line breaks: Markdown would fold a poem's lines into one paragraph.
    Two trailing spaces make a hard break; inside code fences they are invisible and harmless."""
    return markdown.replace("\n", "  \n")
