"""`assistant serve`: what the HTTP layer adds to a turn, and how it holds up under load.

    .venv/bin/python bench/bench_serve.py [--turns 60] [--duration 60] [--clients 32]

Both parts use a fast scripted chat model (tests/serve/scripted.py), so the figures are the
server's and the agent's own costs, not a model's. Memory is the embedded store.
- Overhead: the same turns through `Assistant.stream` directly (then `flush`, as the server waits
  for a turn's memories before acknowledging it) and through the server (the app `assistant
  serve` runs, on uvicorn in a thread of this process, so both arms share the process and the
  machine's noise) with a streamed chat-completions request, interleaved turn by turn. Targets: p50
  added latency ≤ 5 ms; first streamed byte ≤ direct first token + 10 ms.
- Load: a server in its own process (tests/serve/replica.py: what `assistant serve` builds, given
  the scripted model); `--clients` concurrent clients for `--duration` seconds, each on its own
  session, then a check that every acknowledged turn is in memory (the JSON Lines export). Targets: 0 errors,
  0 lost turns; p95 latency and the server's RSS before/after are printed.
This machine is shared (2 cores, other work running): expect noisy timings. Requests and
replies are generated here: in-distribution.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from targets import Target, finish, isolated_env, percentile  # noqa: E402

SERVE_TESTS = ROOT / "tests" / "serve"
REQUESTS = [
    "My favourite colour is teal.", "What is a good name for a cat?", "Explain what a vector store is.",
    "What did I say my favourite colour was?", "Give me three tips for writing clearly.",
]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def cpu_flags() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = line.split(":", 1)[1].split()
            return " ".join(f for f in flags if f.startswith(("avx", "sse4", "fma", "amx")))
    return ""


def start_server(data_dir: Path, **options: object) -> tuple[subprocess.Popen, str]:
    """A server process with the scripted model (the tests' replica, started the tests' way)."""
    serving = runpy.run_path(str(SERVE_TESTS / "conftest.py"))
    proc, url = serving["launch_replica"](data_dir, None, env=isolated_env(data_dir), **options)
    serving["await_replica"](proc, url)
    return proc, url


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def direct_turn(bot, text: str, session: str) -> tuple[float, float]:
    from assistant.events import Failed, Token

    t0 = time.perf_counter()
    first = None
    for event in bot.stream(text, session=session):
        if isinstance(event, Token) and first is None:
            first = time.perf_counter() - t0
        elif isinstance(event, Failed):
            raise SystemExit(f"direct turn failed: {event.message}")
    bot.flush()
    return (time.perf_counter() - t0) * 1000, (first or 0.0) * 1000


def served_turn(client, url: str, text: str, session: str) -> tuple[float, float]:
    body = {"model": "throughline", "stream": True, "messages": [{"role": "user", "content": text}]}
    t0 = time.perf_counter()
    first = None
    with client.stream("POST", f"{url}/v1/chat/completions", json=body,
                       headers={"X-Throughline-Session": session}) as answer:
        if answer.status_code != 200:
            raise SystemExit(f"served turn failed: {answer.status_code} {answer.read()[:300]!r}")
        for line in answer.iter_lines():
            if first is None and '"content": "' in line and '"content": ""' not in line:
                first = time.perf_counter() - t0
    return (time.perf_counter() - t0) * 1000, (first or 0.0) * 1000


def in_process_server(data_dir: Path, model: object) -> tuple[object, str]:
    """The app `assistant serve` runs, on uvicorn in a thread of this process (for the overhead
    part: both arms then share one process, one embedder and the same scheduling)."""
    import socket

    import httpx
    import uvicorn

    from assistant.serve.app import create_app
    from assistant.serve.config import load_serve_config
    from assistant.settings import load_settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(load_settings(data_dir=data_dir), load_serve_config(None, {}, port=port), chat_model=model)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the in-process server was not ready within 180 s")


def overhead(turns: int, work: Path) -> tuple[dict, list[Target]]:
    import httpx

    from assistant.agent import Assistant

    ScriptedChat = runpy.run_path(str(SERVE_TESTS / "scripted.py"))["ScriptedChat"]
    os.environ["ASSISTANT_CONFIG"] = str(work / "none.toml")
    bot = Assistant(data_dir=work / "direct", chat_model=ScriptedChat())
    sys.setswitchinterval(0.0005)  # as `assistant serve` sets it: the arms differ by HTTP alone
    server, url = in_process_server(work / "served", ScriptedChat())
    direct_total, direct_first, served_total, served_first = [], [], [], []
    try:
        with httpx.Client(timeout=60) as client:
            for i in range(-2 * len(REQUESTS) * 4, turns):  # two rounds of every (request, session) warm up
                text, session = REQUESTS[i % len(REQUESTS)], f"s{i % 4}"
                d = direct_turn(bot, text, session)
                s = served_turn(client, url, text, session)
                if i >= 0:
                    direct_total.append(d[0]); direct_first.append(d[1])
                    served_total.append(s[0]); served_first.append(s[1])
    finally:
        server.should_exit = True
        bot.close()
    added = [s - d for s, d in zip(served_total, direct_total)]
    record = {
        "direct_total_p50_ms": statistics.median(direct_total), "served_total_p50_ms": statistics.median(served_total),
        "added_p50_ms": statistics.median(added), "direct_first_token_p50_ms": statistics.median(direct_first),
        "served_first_byte_p50_ms": statistics.median(served_first),
    }
    print(f"overhead ({turns} turns each arm, interleaved):")
    for key, value in record.items():
        print(f"  {key:<28} {value:8.2f}")
    first_added = [s - d for s, d in zip(served_first, direct_first)]
    record["first_byte_added_p50_ms"] = statistics.median(first_added)
    record["added_p50_standard_error_ms"] = median_error(added)
    print(f"  {'first_byte_added_p50_ms':<28} {record['first_byte_added_p50_ms']:8.2f}")
    print(f"  {'added_p50_standard_error_ms':<28} {record['added_p50_standard_error_ms']:8.2f}"
          "  (most of it: the memory write's fsync, in both arms)")
    targets = [
        Target("p50 latency added by HTTP", max(0.0, record["added_p50_ms"]), 5.0, "ms",
               median_error(added) / 5.0),
        Target("first byte - direct first token", max(0.0, record["first_byte_added_p50_ms"]), 10.0, "ms",
               median_error(first_added) / 10.0),
    ]
    return record, targets


def median_error(samples: list[float]) -> float:
    """The standard error of a median of paired differences (1.25 σ/√n): the noise of the p50 added,
    since each turn's own time varies by tens of ms here (the fsync of its memory write)."""
    if len(samples) < 2:
        return 0.0
    return 1.2533 * statistics.stdev(samples) / len(samples) ** 0.5


def load(clients: int, duration: float, work: Path) -> tuple[dict, list[Target]]:
    import httpx

    proc, url = start_server(work / "load", queue=max(32, clients))
    rss_before = rss_mb(proc.pid)
    acknowledged: list[str] = []
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client(n: int) -> None:
        with httpx.Client(timeout=120) as http:
            i = 0
            while time.monotonic() < stop_at:
                text = f"client {n} turn {i}: {REQUESTS[i % len(REQUESTS)]}"
                t0 = time.perf_counter()
                try:
                    answer = http.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]},
                                       headers={"X-Throughline-Session": f"c{n}"})
                    ok = answer.status_code == 200
                except httpx.HTTPError as exc:
                    ok, answer = False, exc
                with lock:
                    if ok:
                        acknowledged.append(text)
                        latencies.append((time.perf_counter() - t0) * 1000)
                    else:
                        errors.append(str(getattr(answer, "status_code", answer)))
                i += 1

    try:
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        rss_after = rss_mb(proc.pid)
        export = httpx.get(f"{url}/v1/memories/export", timeout=300).text
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    stored = "\n".join(json.loads(line)["text"] for line in export.splitlines() if '"kind": "turn"' in line)
    lost = [text for text in acknowledged if f"User: {text}" not in stored]
    record = {
        "clients": clients, "duration_s": duration, "turns": len(acknowledged), "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5], "lost_turns": len(lost),
        "latency_p50_ms": percentile(latencies, 0.5) if latencies else None,
        "latency_p95_ms": percentile(latencies, 0.95) if latencies else None,
        "turns_per_s": len(acknowledged) / duration, "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1),
    }
    print(f"load ({clients} clients, {duration:.0f} s):")
    for key, value in record.items():
        print(f"  {key:<28} {value}")
    targets = [Target("load errors", len(errors), 0, "", 0.0), Target("load lost turns", len(lost), 0, "", 0.0)]
    return record, targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=60, help="turns per arm for the overhead part")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (0: skip the load part)")
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores; flags: {cpu_flags()}); shared machine, noisy timings")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        over, over_targets = overhead(args.turns, work)
        loaded, load_targets = load(args.clients, args.duration, work) if args.duration > 0 else ({}, [])
    return finish("serve", {"cpu": cpu_model(), "overhead": over, "load": loaded}, over_targets + load_targets)


if __name__ == "__main__":
    sys.exit(main())
