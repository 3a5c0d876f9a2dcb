"""A one-paragraph writing turn as the chat UI runs it: time to first token and to the end.

    .venv/bin/python bench/bench_writing.py [--rounds 2]

The chat UI runs each turn through `Assistant.stream()` with the model already loaded, so this
bench does the same: the bundled model (prepared weights, the user's path), loaded and warmed by
one turn, then one-paragraph writing requests in fresh sessions, each timed from the call to the
first `Token` event and to `Finished` (draft, deterministic review, a revision only when the time
budget allows it, rule fixes). Baseline, same run, interleaved: the same loaded model answering the
same request in one plain streamed pass (no recall, no chain), which is the least a writing turn
can cost. Targets (issue 16): turn <= 15 s, first token <= 1 s.

Writes bench/results/writing.json; exits 1 when a target is missed by more than the run's noise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.targets import Target, finish, offline, print_machine, repeat_noise  # noqa: E402

offline()

TURN_TARGET_S = 15.0
FIRST_TOKEN_TARGET_S = 1.0
REQUESTS = (
    "/write Write a one-paragraph intro for a blog post about learning to bake bread at home.",
    "/write Write a short paragraph for our team newsletter announcing the new office plants.",
    "/write Write one paragraph introducing a blog post on why people should walk to work.",
)


def writing_turn(bot, request: str, session: str) -> dict[str, float | int]:
    from assistant.events import Failed, Finished, Token

    start = time.perf_counter()
    first, words = None, 0
    for event in bot.stream(request, session=session):
        if isinstance(event, Token) and first is None:
            first = time.perf_counter() - start
        elif isinstance(event, Failed):
            raise RuntimeError(f"the writing turn failed: {event.message}")
        elif isinstance(event, Finished):
            words = len(event.text.split())
    total = time.perf_counter() - start
    return {"first_token_s": first if first is not None else total, "total_s": total, "words": words}


def one_pass(model, request: str) -> dict[str, float | int]:
    from langchain_core.messages import HumanMessage, SystemMessage

    from assistant.chains.writing import SYSTEM

    start = time.perf_counter()
    first, text = None, []
    for chunk in model.stream([SystemMessage(SYSTEM), HumanMessage(request.removeprefix("/write "))]):
        if chunk.content and first is None:
            first = time.perf_counter() - start
        text.append(str(chunk.content))
    total = time.perf_counter() - start
    return {"first_token_s": first if first is not None else total, "total_s": total,
            "words": len("".join(text).split())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the requests (default 2)")
    args = parser.parse_args()
    machine = print_machine()

    from assistant import Assistant

    with tempfile.TemporaryDirectory(prefix="bench-writing-") as tmp:
        bot = Assistant(data_dir=Path(tmp) / "agent", user="bench", model="bundled")
        print("loading the bundled model and warming it with one turn …", flush=True)
        writing_turn(bot, REQUESTS[0], session="warm-up")
        model = bot.model
        turns, passes = [], []
        for r in range(args.rounds):
            for i, request in enumerate(REQUESTS):
                turn = writing_turn(bot, request, session=f"s{r}-{i}")
                bare = one_pass(model, request)
                turns.append(turn)
                passes.append(bare)
                print(f"  turn {turn['total_s']:5.1f} s (first token {turn['first_token_s']:.2f} s, "
                      f"{turn['words']} words) | one pass {bare['total_s']:5.1f} s "
                      f"({bare['words']} words)", flush=True)
        bot.close()

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    turn_s, first_s, pass_s = med(turns, "total_s"), med(turns, "first_token_s"), med(passes, "total_s")
    print(f"writing turn p50 {turn_s:.1f} s, first token {first_s:.2f} s; one plain pass {pass_s:.1f} s "
          f"(turn / pass {turn_s / pass_s:.2f}x)")
    period = len(REQUESTS)
    targets = [
        Target("writing turn, one paragraph (p50)", turn_s, TURN_TARGET_S, "s",
               repeat_noise([t["total_s"] for t in turns], period)),
        Target("writing turn, first token (p50)", first_s, FIRST_TOKEN_TARGET_S, "s",
               repeat_noise([t["first_token_s"] for t in turns], period)),
    ]
    record = {"turns": turns, "one_pass": passes, "turn_over_pass": turn_s / pass_s, "machine_at_start": machine}
    return finish("writing", record, targets)


if __name__ == "__main__":
    sys.exit(main())
