"""`python -m assistant.tui`: the chat UI with settings from config.toml and ASSISTANT_* only."""

from __future__ import annotations

import sys

from assistant.errors import AssistantError
from assistant.settings import load_settings


def main() -> int:
    try:
        settings = load_settings()
    except AssistantError as exc:
        print(f"assistant: error: {exc}", file=sys.stderr)
        return exc.exit_code
    from assistant.tui.app import run_tui

    return run_tui(settings)


if __name__ == "__main__":
    sys.exit(main())
