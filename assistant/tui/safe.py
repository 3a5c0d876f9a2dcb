"""Terminal safety: model, tool and memory text is shown, never executed by the terminal.

Everything the UI displays that it did not write itself goes through `clean()` first. Escape
sequences (ESC, CSI, OSC …), other C0/C1 control characters and bidi overrides become visible
placeholders, so a reply containing `\\x1b]52;c;…` or `\\x1b[2J` prints those characters instead
of writing the clipboard or clearing the screen. Newlines and tabs are kept; carriage returns are
dropped (a lone CR would let text overwrite itself). Rich markup is a separate concern: widgets
render this text as `Content`/`Text` or Markdown, never as markup.
"""

from __future__ import annotations

import re

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")


def _show(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code == 0x1B:
        return "␛"
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ␁ … the Unicode "control pictures"
    if code == 0x7F:
        return "␡"
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"


def clean(text: object) -> str:
    """`text` with every control character that a terminal would act on made visible."""
    value = text if isinstance(text, str) else str(text)
    value = value.replace("\r\n", "\n").replace("\r", "")
    return _UNSAFE.sub(_show, value)


def one_line(text: object, width: int = 80) -> str:
    """A cleaned, whitespace-collapsed single line of at most `width` characters."""
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= width else flat[: max(1, width - 1)] + "…"
