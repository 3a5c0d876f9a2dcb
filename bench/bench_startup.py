"""Start-up and footprint: `import assistant`, `assistant ask` end to end, and the chat UI's memory.

    .venv/bin/python bench/bench_startup.py [--runs 5] [--quick] [--skip-rss]

Each figure is measured in fresh processes, interleaved with its baseline so machine load hits
both alike (medians; noise = relative p10-p90 spread of the repeats):
- `import assistant` vs `python -c pass` (the interpreter's own start).   target ≤ 0.3 s
- `assistant ask "..."` (the installed script) for a 100-token answer with a warm model cache
  (prepared weights), streamed: the first token on stdout and the end, from the process start, in
  three ways a person meets it:
    resident   an agent is running (started by an earlier `ask` less than keep_alive ago): the
               path from the second `ask` on                 targets: first token ≤ 1 s, end ≤ 3 s
    starting   no agent is running (the first `ask`, or one after keep_alive): this `ask` starts it
    in process keep_alive = 0: the `ask` loads everything itself
  vs llama-cpp-python loading the same GGUF and answering as much in a new process (else a plain
  transformers script).
- resident memory (VmRSS) of the chat UI (headless, Textual's run_test) with the bundled model
  loaded and one reply given, vs a bare process with the model loaded.   target ≤ 1.5 GB
  The peak while the weights are packed at load is printed beside it.
Writes bench/results/startup.json; exits 1 when a target is missed by more than the noise.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.llama_baseline import installed, prelude  # noqa: E402
from bench.targets import Target, finish, isolated_env, print_machine, spread  # noqa: E402

IMPORT_TARGET_S = 0.3
ASK_TARGET_S = 3.0
FIRST_TOKEN_TARGET_S = 1.0
RSS_TARGET_GB = 1.5
REQUEST = "/chat Explain in a paragraph why the sky is blue."
TOKENS = 100

LLAMA_ANSWER = f"""
from assistant.local.bundled import bundled_gguf_path
from llama_cpp import Llama
import sys
llm = Llama(model_path=str(bundled_gguf_path()), n_ctx=4096, verbose=False)
for part in llm.create_chat_completion(messages=[{{"role": "user", "content": {REQUEST.removeprefix("/chat ")!r}}}],
                                       max_tokens={TOKENS}, temperature=0.0, stream=True):
    sys.stdout.write(part["choices"][0].get("delta", {{}}).get("content") or "")
    sys.stdout.flush()
"""

PLAIN_GENERATE = f"""
import os
os.environ["HF_HUB_OFFLINE"] = "1"
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from assistant.local.bundled import converted_model_dir
folder = converted_model_dir()
tok = AutoTokenizer.from_pretrained(folder)
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
ids = tok.apply_chat_template([{{"role": "user", "content": {REQUEST!r}}}], add_generation_prompt=True,
                              return_tensors="pt", return_dict=True)["input_ids"]
out = model.generate(ids, max_new_tokens={TOKENS}, do_sample=False)
print(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
"""

RSS_LINE = (
    "import resource; status = dict(line.split(':', 1) for line in open('/proc/self/status')); "
    "print(int(status['VmRSS'].split()[0]) * 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)"
)

MODEL_RSS = f"""
from assistant.models import build_chat_model
build_chat_model("bundled").ensure_loaded()
{RSS_LINE}
"""

TUI_RSS = f"""
import asyncio, time
from assistant.settings import load_settings
from assistant.tui.app import ThroughlineApp
from assistant.tui.widgets.prompt import PromptInput

async def main():
    app = ThroughlineApp(settings=load_settings(max_new_tokens={TOKENS}), preload=True)
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 600
        while app.model_state != "ready" or app.chat.session_name is None:
            assert time.monotonic() < deadline, "the model did not load"
            await pilot.pause(0.1)
        prompt = app.chat.query_one(PromptInput)
        prompt.focus()
        prompt.insert({REQUEST!r})
        await pilot.press("enter")
        await pilot.pause(0.2)
        while app.chat.replying:
            assert time.monotonic() < deadline, "no reply"
            await pilot.pause(0.1)
        {RSS_LINE}

asyncio.run(main())
"""


WAYS = ("resident", "starting", "in process")


def stop_agents(env: dict[str, str]) -> None:
    """Stop the resident agents of this bench's runtime dir and wait until they have exited."""
    from assistant.resident.client import exited, running_agents

    pids = [agent["pid"] for agent in running_agents(stop=True, environ=env)]
    deadline = time.monotonic() + 120
    while not all(exited(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise SystemExit(f"resident agents {pids} did not stop within 120 s")
        time.sleep(0.05)


def streamed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the first byte on stdout, seconds to the end) of a new process."""
    started = time.perf_counter()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT) as proc:
        assert proc.stdout is not None
        proc.stdout.read(1)
        first = time.perf_counter() - started
        proc.stdout.read()
        err = proc.stderr.read() if proc.stderr else b""
        code = proc.wait(timeout=900)
    if code != 0:
        raise SystemExit(f"{' '.join(argv[:3])}… failed ({code}):\n{err.decode()[-2000:]}")
    return first, time.perf_counter() - started


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])}… failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return elapsed, out.stdout


def rss_gb(snippet: str, env: dict[str, str]) -> tuple[float, float]:
    """(resident now, peak resident) of a process running `snippet`, in GB."""
    _, out = timed([sys.executable, "-c", snippet], env)
    now, peak = out.strip().splitlines()[-1].split()
    return int(now) / 1024**3, int(peak) / 1024**3


def main() -> int:
    from assistant.local.bundled import bundled_gguf_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 runs, no resident-memory figures")
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.skip_rss = min(args.runs, 3), True
    machine = print_machine()
    has_llama = installed()
    baseline_name = "llama.cpp (same GGUF)" if has_llama else "plain transformers script"

    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryDirectory(prefix="tl-") as runtime:
        env = isolated_env(data, ASSISTANT_MAX_NEW_TOKENS=str(TOKENS), ASSISTANT_RUNTIME_DIR=runtime)
        resident_env = {**env, "ASSISTANT_KEEP_ALIVE": "600"}
        script = Path(sys.executable).with_name("assistant")  # what a person types: the installed script
        assistant_cli = [str(script), "ask", REQUEST] if script.exists() else [sys.executable, "-m", "assistant.cli", "ask", REQUEST]
        baseline = [sys.executable, "-c", prelude(str(bundled_gguf_path())) + LLAMA_ANSWER if has_llama else PLAIN_GENERATE]
        print("warming the model cache (prepared weights) and the file cache …", flush=True)
        timed(assistant_cli, env)
        timed(baseline, env)

        bare, imports, base, base_firsts = [], [], [], []
        asks: dict[str, list[float]] = {way: [] for way in WAYS}
        firsts: dict[str, list[float]] = {way: [] for way in WAYS}
        try:
            for run in range(args.runs):  # interleaved: load on the machine hits ours and the baseline alike
                bare.append(timed([sys.executable, "-c", "pass"], env)[0])
                imports.append(timed([sys.executable, "-c", "import assistant"], env)[0])
                stop_agents(resident_env)
                for way, way_env in (("starting", resident_env), ("resident", resident_env), ("in process", env)):
                    first, total = streamed(assistant_cli, way_env)
                    firsts[way].append(first)
                    asks[way].append(total)
                first, total = streamed(baseline, env)
                base_firsts.append(first)
                base.append(total)
                print(f"  run {run + 1}: import {imports[-1]:.3f} s (bare {bare[-1]:.3f} s), ask first token / end: "
                      + ", ".join(f"{way} {firsts[way][-1]:.2f} / {asks[way][-1]:.2f} s" for way in WAYS)
                      + f" ({baseline_name} {base_firsts[-1]:.2f} / {base[-1]:.2f} s)", flush=True)
        finally:
            stop_agents(resident_env)
        model_rss = model_peak = tui_rss = tui_peak = None
        if not args.skip_rss:
            print("measuring resident memory …", flush=True)
            model_rss, model_peak = rss_gb(MODEL_RSS, env)
            tui_rss, tui_peak = rss_gb(TUI_RSS, env)

    median = statistics.median
    record = {
        "runs": args.runs, "request": REQUEST, "max_new_tokens": TOKENS, "baseline": baseline_name,
        "command": " ".join(assistant_cli[:2]),
        "bare_python_s": bare, "import_assistant_s": imports, "baseline_s": base, "baseline_first_token_s": base_firsts,
        "import_median_s": round(median(imports), 3), "bare_median_s": round(median(bare), 3),
        "baseline_median_s": round(median(base), 3), "baseline_first_token_median_s": round(median(base_firsts), 3),
        "import_ratio_to_bare": round(median(imports) / median(bare), 2), "machine_at_start": machine,
        "ask": {way: {"s": asks[way], "first_token_s": firsts[way], "median_s": round(median(asks[way]), 3),
                      "first_token_median_s": round(median(firsts[way]), 3),
                      "ratio_to_baseline": round(median(asks[way]) / median(base), 2)} for way in WAYS},
    }
    print(f"import assistant     {record['import_median_s']:.3f} s   bare interpreter {record['bare_median_s']:.3f} s"
          f"   ratio {record['import_ratio_to_bare']:.2f}x")
    for way in WAYS:
        ask = record["ask"][way]
        print(f"assistant ask, {way + ',':11} first token {ask['first_token_median_s']:.2f} s, end {ask['median_s']:.2f} s"
              f"   {baseline_name}: first token {record['baseline_first_token_median_s']:.2f} s, end "
              f"{record['baseline_median_s']:.2f} s   ratio (end) {ask['ratio_to_baseline']:.2f}x")
    resident = record["ask"]["resident"]
    targets = [
        Target("import assistant", record["import_median_s"], IMPORT_TARGET_S, "s", spread(imports)),
        Target("assistant ask, warm cache, resident agent, first token", resident["first_token_median_s"],
               FIRST_TOKEN_TARGET_S, "s", spread(firsts["resident"])),
        Target(f"assistant ask, warm cache, resident agent, {TOKENS} tokens, end", resident["median_s"], ASK_TARGET_S,
               "s", spread(asks["resident"])),
    ]
    if tui_rss is not None and model_rss is not None:
        record.update(model_only_rss_gb=round(model_rss, 3), model_only_peak_rss_gb=round(model_peak, 3),
                      tui_rss_gb=round(tui_rss, 3), tui_peak_rss_gb=round(tui_peak, 3),
                      tui_rss_ratio_to_model_only=round(tui_rss / model_rss, 2))
        print(f"resident chat UI     {tui_rss:.2f} GB (peak {tui_peak:.2f})   model alone {model_rss:.2f} GB "
              f"(peak {model_peak:.2f})   ratio {record['tui_rss_ratio_to_model_only']:.2f}x")
        targets.append(Target("chat UI resident memory, model loaded", tui_rss, RSS_TARGET_GB, "GB", 0.0))
    return finish("startup", record, targets)


if __name__ == "__main__":
    sys.exit(main())
