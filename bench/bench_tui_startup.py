"""Time to first frame of the chat UI, as a person sees it: a real process in a real pseudo-terminal;
then, measured with Pilot (bench/tui_interaction.py), the time to open a 200-message thread and the
keystroke-to-screen latency while a reply streams.

    .venv/bin/python bench/bench_tui_startup.py [--runs 5]

Each run starts the `assistant` command (the installed script a person types) on a pty (120x40),
like a terminal would, and times from spawn until the frame's text has been written to the
terminal: the UI's message-box placeholder
for Throughline, a marker label for the baseline, a minimal Textual app (Header + Static + Footer)
started the same way (each started once first, to warm the file and bytecode caches). The ratio is Throughline / baseline (medians of the same run), so the
figure holds on any machine; beside the wall time, the CPU seconds the process used until then
(getrusage), which a machine shared with other work inflates far less. Targets: first frame
≤ 0.6 s, a 200-message thread open ≤ 1 s, keystroke-to-screen p95 ≤ 50 ms while a reply streams
(each beside its baseline, see tui_interaction.py). Prints the CPU and the load average before and
after; writes bench/results/tui_startup.json and exits 1 when a target is missed by more than the
run's noise.
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
from bench.targets import Target, finish, isolated_env, percentile, print_machine, spread  # noqa: E402

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


def first_frame(argv: list[str], marker: bytes, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawning `argv` on a new pty until `marker` has been written to it, and the
    CPU seconds the process had used by then."""
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
                wall = time.perf_counter() - started
                os.kill(pid, signal.SIGKILL)
                _, _, usage = os.wait4(pid, 0)
                pid = 0
                return wall, usage.ru_utime + usage.ru_stime
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    info = print_machine()

    with tempfile.TemporaryDirectory() as data:
        env = isolated_env(data, TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES))
        env.pop("TEXTUAL", None)
        # The warm-up runs below write this checkout's bytecode cache (isolated_env drops
        # PYTHONDONTWRITEBYTECODE), as the first start of an installed app does; the baseline's Textual
        # has had its .pyc files since it was installed. Else every run compiled ~30 modules (~0.07 s).
        baseline_argv = [sys.executable, "-c", BASELINE]
        command = Path(sys.executable).with_name("assistant")  # what a person types: the installed script
        throughline_argv = [str(command)] if command.exists() else [sys.executable, "-m", "assistant.cli"]
        first_frame(baseline_argv, BASELINE_MARKER, env)  # warm the file cache for both
        first_frame(throughline_argv, THROUGHLINE_MARKER, env)
        baseline, throughline, baseline_cpu, throughline_cpu = [], [], [], []
        for _ in range(args.runs):  # interleaved, so machine load hits both alike
            for argv, marker, walls, cpus in ((baseline_argv, BASELINE_MARKER, baseline, baseline_cpu),
                                              (throughline_argv, THROUGHLINE_MARKER, throughline, throughline_cpu)):
                wall, cpu = first_frame(argv, marker, env)
                walls.append(wall)
                cpus.append(cpu)

    median = statistics.median
    result = {
        "runs": args.runs,
        "terminal": f"{COLUMNS}x{LINES}",
        "load_average_before": info["load_average"],
        "baseline_s": [round(t, 3) for t in baseline],
        "throughline_s": [round(t, 3) for t in throughline],
        "baseline_median_s": round(median(baseline), 3),
        "throughline_median_s": round(median(throughline), 3),
        "baseline_cpu_median_s": round(median(baseline_cpu), 3),
        "throughline_cpu_median_s": round(median(throughline_cpu), 3),
    }
    result["ratio"] = round(result["throughline_median_s"] / result["baseline_median_s"], 2)
    result["cpu_ratio"] = round(result["throughline_cpu_median_s"] / result["baseline_cpu_median_s"], 2)
    print(f"first frame, minimal Textual app (baseline): {result['baseline_median_s']:.3f} s, "
          f"CPU {result['baseline_cpu_median_s']:.3f} s (medians of {args.runs})")
    print(f"first frame, Throughline chat UI:            {result['throughline_median_s']:.3f} s, "
          f"CPU {result['throughline_cpu_median_s']:.3f} s")
    print(f"ratio Throughline / baseline:                {result['ratio']:.2f}x wall, {result['cpu_ratio']:.2f}x CPU")
    targets = [Target("TUI first frame", result["throughline_median_s"], FIRST_FRAME_TARGET_S, "s", spread(throughline))]
    targets += interaction(result, args.runs)
    result["load_average_after"] = os.getloadavg()
    print(f"load average after: {result['load_average_after'][0]:.1f} (before: {info['load_average'][0]:.1f}; "
          "2 shared cores: other people's work is in every wall-clock figure)")
    return finish("tui_startup", result, targets)


def interaction(result: dict, runs: int) -> list[Target]:
    """The Pilot figures (bench/tui_interaction.py), added to `result`; their targets."""
    from bench.tui_interaction import measure

    with tempfile.TemporaryDirectory() as data:
        os.environ.update(isolated_env(data))
        figures = measure(Path(data), runs)
    (opened, opened_cpu), (bare, bare_cpu), (plain, plain_cpu) = (
        zip(*figures[key]) for key in ("open_thread_s", "open_baseline_s", "open_static_s"))
    runs_streaming, runs_idle = figures["keystroke_streaming_ms"], figures["keystroke_idle_ms"]
    streaming, idle = [ms for run in runs_streaming for ms in run], [ms for run in runs_idle for ms in run]
    result.update(
        open_thread_median_s=round(statistics.median(opened), 3), open_baseline_median_s=round(statistics.median(bare), 3),
        open_thread_ratio=round(statistics.median(opened) / statistics.median(bare), 2),
        open_static_median_s=round(statistics.median(plain), 3),
        open_static_ratio=round(statistics.median(opened) / statistics.median(plain), 2),
        open_thread_cpu_median_s=round(statistics.median(opened_cpu), 3),
        open_baseline_cpu_median_s=round(statistics.median(bare_cpu), 3),
        open_static_cpu_median_s=round(statistics.median(plain_cpu), 3),
        keystroke_streaming_p95_ms=round(percentile(streaming, 0.95), 1),
        keystroke_streaming_median_ms=round(statistics.median(streaming), 1),
        keystroke_idle_p95_ms=round(percentile(idle, 0.95), 1), keystrokes=len(streaming),
    )
    result["keystroke_ratio"] = round(result["keystroke_streaming_p95_ms"] / max(result["keystroke_idle_p95_ms"], 0.1), 2)
    print(f"open a 200-message thread, bare Textual Markdown, all 200 (baseline): {result['open_baseline_median_s']:.3f} s, "
          f"CPU {result['open_baseline_cpu_median_s']:.3f} s")
    print(f"open a 200-message thread, one plain Static with all the text (baseline): "
          f"{result['open_static_median_s']:.3f} s, CPU {result['open_static_cpu_median_s']:.3f} s")
    print(f"open a 200-message thread, Throughline:             {result['open_thread_median_s']:.3f} s, "
          f"CPU {result['open_thread_cpu_median_s']:.3f} s (wall ratio {result['open_thread_ratio']:.2f}x the Markdown "
          f"baseline, {result['open_static_ratio']:.2f}x the plain Static; CPU ratio "
          f"{result['open_thread_cpu_median_s'] / max(result['open_static_cpu_median_s'], 1e-3):.2f}x the plain Static)")
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
