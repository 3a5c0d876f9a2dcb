"""Checking a request before any work is done on it: empty, oversized or binary input is refused
with a message that says what to do, and nothing is stored."""

from __future__ import annotations

import unicodedata

from assistant.errors import InputError

_ALLOWED_CONTROLS = {"\n", "\r", "\t", "\x1b"}


def validate_request(text: str, max_chars: int) -> str:
    if not isinstance(text, str):
        raise InputError(f"the request must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise InputError("the request is empty; type what you want the assistant to do")
    if len(text) > max_chars:
        raise InputError(
            f"the request is {_size(len(text))}, over the {_size(max_chars)} limit; save large content to a "
            "file in the workspace and refer to it by name (or raise max_request_chars in config.toml)"
        )
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS)
    if "\x00" in text or "\ufffd" in text or controls > max(2, len(text) // 100):
        raise InputError("the request looks like binary data, not text; send text, or save the data to a file and name it")
    return stripped


def _size(chars: int) -> str:
    return f"{chars / 1_000_000:.1f} MB" if chars >= 1_000_000 else f"{chars / 1000:.0f} KB" if chars >= 1000 else f"{chars} characters"
