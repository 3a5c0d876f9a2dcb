"""Start-up and footprint: `import assistant`, `assistant ask` end to end, and the chat UI's memory.

    .venv/bin/python bench/bench_startup.py [--runs 5]

Each figure is measured in fresh processes, interleaved with its baseline so machine load hits
both alike (medians; noise = relative p10-p90 spread of the repeats):
- `import assistant` vs `python -c pass` (the interpreter's own start).   target ≤ 0.3 s
- `assistant ask "..."` with a warm model cache vs a plain transformers script that loads the
  same converted model and generates the same number of tokens.          target ≤ 4 s
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
from bench.targets import Target, finish, isolated_env, spread  # noqa: E402

IMPORT_TARGET_S = 0.3
ASK_TARGET_S = 4.0
RSS_TARGET_GB = 1.5
REQUEST = "Hi! Say hello back in one sentence."
TOKENS = 16

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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        env = isolated_env(data, ASSISTANT_MAX_NEW_TOKENS=str(TOKENS))
        assistant_cli = [sys.executable, "-m", "assistant.cli", "ask", REQUEST]
        print("warming the converted-model cache and the file cache …", flush=True)
        timed(assistant_cli, env)
        timed([sys.executable, "-c", PLAIN_GENERATE], env)

        bare, imports, asks, plain = [], [], [], []
        for run in range(args.runs):  # interleaved: load on the machine hits ours and the baseline alike
            bare.append(timed([sys.executable, "-c", "pass"], env)[0])
            imports.append(timed([sys.executable, "-c", "import assistant"], env)[0])
            asks.append(timed(assistant_cli, env)[0])
            plain.append(timed([sys.executable, "-c", PLAIN_GENERATE], env)[0])
            print(f"  run {run + 1}: import {imports[-1]:.3f} s (bare {bare[-1]:.3f} s), "
                  f"ask {asks[-1]:.2f} s (plain transformers {plain[-1]:.2f} s)", flush=True)
        print("measuring resident memory …", flush=True)
        model_rss, model_peak = rss_gb(MODEL_RSS, env)
        tui_rss, tui_peak = rss_gb(TUI_RSS, env)

    median = statistics.median
    record = {
        "runs": args.runs, "request": REQUEST, "max_new_tokens": TOKENS,
        "bare_python_s": bare, "import_assistant_s": imports, "assistant_ask_s": asks, "plain_generate_s": plain,
        "import_median_s": round(median(imports), 3), "bare_median_s": round(median(bare), 3),
        "ask_median_s": round(median(asks), 3), "plain_median_s": round(median(plain), 3),
        "ask_ratio_to_plain": round(median(asks) / median(plain), 2),
        "import_ratio_to_bare": round(median(imports) / median(bare), 2),
        "model_only_rss_gb": round(model_rss, 3), "model_only_peak_rss_gb": round(model_peak, 3),
        "tui_rss_gb": round(tui_rss, 3), "tui_peak_rss_gb": round(tui_peak, 3),
        "tui_rss_ratio_to_model_only": round(tui_rss / model_rss, 2),
    }
    print(f"import assistant     {record['import_median_s']:.3f} s   bare interpreter {record['bare_median_s']:.3f} s"
          f"   ratio {record['import_ratio_to_bare']:.2f}x")
    print(f"assistant ask        {record['ask_median_s']:.2f} s    plain transformers script "
          f"{record['plain_median_s']:.2f} s   ratio {record['ask_ratio_to_plain']:.2f}x")
    print(f"resident chat UI     {tui_rss:.2f} GB (peak {tui_peak:.2f})   model alone {model_rss:.2f} GB "
          f"(peak {model_peak:.2f})   ratio {record['tui_rss_ratio_to_model_only']:.2f}x")
    targets = [
        Target("import assistant", record["import_median_s"], IMPORT_TARGET_S, "s", spread(imports)),
        Target("assistant ask, warm cache, end to end", record["ask_median_s"], ASK_TARGET_S, "s", spread(asks)),
        Target("chat UI resident memory, model loaded", tui_rss, RSS_TARGET_GB, "GB", 0.0),
    ]
    return finish("startup", record, targets)


if __name__ == "__main__":
    sys.exit(main())
