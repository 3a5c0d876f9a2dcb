"""Time to first frame of the chat UI, as a person sees it: a real process in a real pseudo-terminal;
then, measured with Pilot (bench/tui_interaction.py), the time to open a 200-message thread and the
keystroke-to-screen latency while a reply streams.

    .venv/bin/python bench/bench_tui_startup.py [--runs 5]

Each run starts a fresh interpreter on a pty (120x40), like a terminal would, and times from
spawn until the frame's text has been written to the terminal: the UI's message-box placeholder
for Throughline, a marker label for the baseline, a minimal Textual app (Header + Static + Footer)
started the same way. The ratio is Throughline / baseline (medians of the same run), so the
figure holds on any machine. Targets: first frame ≤ 0.6 s, a 200-message thread open ≤ 1 s,
keystroke-to-screen p95 ≤ 50 ms while a reply streams (each beside its baseline, see
tui_interaction.py). Writes bench/results/tui_startup.json and exits 1 when a target is missed by
more than the run's noise.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.targets import Target, finish, isolated_env, percentile, spread  # noqa: E402

FIRST_FRAME_TARGET_S = 0.6
OPEN_THREAD_TARGET_S = 1.0
KEYSTROKE_P95_TARGET_MS = 50.0
COLUMNS, LINES = 120, 40
TIMEOUT_S = 30.0

BASELINE = """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Hello(App):
    def compose(self):
        yield Header()
        yield Static("baseline-first-frame")
        yield Footer()

Hello().run()
"""
BASELINE_MARKER = b"baseline-first-frame"
THROUGHLINE_MARKER = b"Enter sends"  # the message box's placeholder: the whole chat screen is up


def first_frame(argv: list[str], marker: bytes, env: dict[str, str]) -> float:
    """Seconds from spawning `argv` on a new pty until `marker` has been written to it."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of a known size, then the program
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        os.execvpe(argv[0], argv, env)
    seen = b""
    try:
        while True:
            left = TIMEOUT_S - (time.perf_counter() - started)
            if left <= 0:
                raise TimeoutError(f"no first frame from {argv} within {TIMEOUT_S:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child exited
                raise RuntimeError(f"{argv} exited before its first frame:\n{seen[-2000:]!r}") from None
            seen += chunk
            if marker in seen:
                return time.perf_counter() - started
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        env = isolated_env(data, TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES))
        env.pop("TEXTUAL", None)
        baseline_argv = [sys.executable, "-c", BASELINE]
        throughline_argv = [sys.executable, "-m", "assistant.tui"]
        first_frame(baseline_argv, BASELINE_MARKER, env)  # warm the file cache for both
        first_frame(throughline_argv, THROUGHLINE_MARKER, env)
        baseline, throughline = [], []
        for _ in range(args.runs):  # interleaved, so machine load hits both alike
            baseline.append(first_frame(baseline_argv, BASELINE_MARKER, env))
            throughline.append(first_frame(throughline_argv, THROUGHLINE_MARKER, env))

    result = {
        "runs": args.runs,
        "terminal": f"{COLUMNS}x{LINES}",
        "baseline_s": [round(t, 3) for t in baseline],
        "throughline_s": [round(t, 3) for t in throughline],
        "baseline_median_s": round(statistics.median(baseline), 3),
        "throughline_median_s": round(statistics.median(throughline), 3),
    }
    result["ratio"] = round(result["throughline_median_s"] / result["baseline_median_s"], 2)
    print(f"first frame, minimal Textual app (baseline): {result['baseline_median_s']:.3f} s (median of {args.runs})")
    print(f"first frame, Throughline chat UI:            {result['throughline_median_s']:.3f} s")
    print(f"ratio Throughline / baseline:                {result['ratio']:.2f}x")
    targets = [Target("TUI first frame", result["throughline_median_s"], FIRST_FRAME_TARGET_S, "s", spread(throughline))]
    targets += interaction(result, args.runs)
    return finish("tui_startup", result, targets)


def interaction(result: dict, runs: int) -> list[Target]:
    """The Pilot figures (bench/tui_interaction.py), added to `result`; their targets."""
    from bench.tui_interaction import measure

    with tempfile.TemporaryDirectory() as data:
        os.environ.update(isolated_env(data))
        figures = measure(Path(data), runs)
    opened, bare = figures["open_thread_s"], figures["open_baseline_s"]
    runs_streaming, runs_idle = figures["keystroke_streaming_ms"], figures["keystroke_idle_ms"]
    streaming, idle = [ms for run in runs_streaming for ms in run], [ms for run in runs_idle for ms in run]
    result.update(
        open_thread_median_s=round(statistics.median(opened), 3), open_baseline_median_s=round(statistics.median(bare), 3),
        open_thread_ratio=round(statistics.median(opened) / statistics.median(bare), 2),
        keystroke_streaming_p95_ms=round(percentile(streaming, 0.95), 1),
        keystroke_streaming_median_ms=round(statistics.median(streaming), 1),
        keystroke_idle_p95_ms=round(percentile(idle, 0.95), 1), keystrokes=len(streaming),
    )
    result["keystroke_ratio"] = round(result["keystroke_streaming_p95_ms"] / max(result["keystroke_idle_p95_ms"], 0.1), 2)
    print(f"open a 200-message thread, bare Textual (baseline): {result['open_baseline_median_s']:.3f} s")
    print(f"open a 200-message thread, Throughline:             {result['open_thread_median_s']:.3f} s "
          f"(ratio {result['open_thread_ratio']:.2f}x)")
    print(f"keystroke to screen, idle p95 (baseline):           {result['keystroke_idle_p95_ms']:.1f} ms")
    print(f"keystroke to screen while a reply streams, p95:     {result['keystroke_streaming_p95_ms']:.1f} ms "
          f"(median {result['keystroke_streaming_median_ms']:.1f} ms, ratio {result['keystroke_ratio']:.2f}x, "
          f"{len(streaming)} keys)")
    return [
        Target("open a 200-message thread", result["open_thread_median_s"], OPEN_THREAD_TARGET_S, "s", spread(opened)),
        Target("keystroke to screen while streaming (p95)", result["keystroke_streaming_p95_ms"],
               KEYSTROKE_P95_TARGET_MS, "ms", spread([percentile(run, 0.95) for run in runs_streaming])),
    ]


if __name__ == "__main__":
    sys.exit(main())
