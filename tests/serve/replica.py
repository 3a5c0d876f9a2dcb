"""One `assistant serve` replica with the scripted model, for the multi-replica tests and bench.

Test-only: the product has no way to select a scripted model; this script builds the server the
CLI builds (`assistant.serve.serve`) and hands it the model directly.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from pathlib import Path

ScriptedChat = runpy.run_path(str(Path(__file__).with_name("scripted.py")))["ScriptedChat"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--memory-url")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--extra-words", type=int, default=0)
    parser.add_argument("--long-words", type=int, default=0)
    parser.add_argument("--queue", type=int, default=32)
    parser.add_argument("--parallel", type=int, default=0)
    args = parser.parse_args()

    from assistant.serve import serve
    from assistant.serve.config import load_serve_config
    from assistant.settings import load_settings

    settings = load_settings(memory_url=args.memory_url)
    config = load_serve_config(None, os.environ, port=args.port, queue=args.queue, parallel=args.parallel)
    serve(settings, config, chat_model=ScriptedChat(delay_s=args.delay, extra_words=args.extra_words, long_words=args.long_words),
          log_level="warning")


if __name__ == "__main__":
    sys.exit(main())
