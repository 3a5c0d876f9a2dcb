"""Targets for the speed benchmarks: met, or missed by more than the noise measured in the same run.

A shared 2-core machine is noisy, so every figure is a median over repeats, its noise is the
relative spread (p90 - p10) / median of repeats of the same measurement, and a target counts as missed only when
the median is over the limit by more than that noise (never less than `MIN_NOISE`).
"""

from __future__ import annotations

import json
import platform
import statistics
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MIN_NOISE = 0.05


def offline() -> None:
    """Run this process as the benches do: no model hub, no tokenizer threads fighting the kernels.
    Call it before importing `assistant` or `memory` (they read these when they load a model)."""
    import os

    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false"),
                        ("ANONYMIZED_TELEMETRY", "False")):
        os.environ.setdefault(name, value)


def isolated_env(data_dir: str | Path, **extra: str) -> dict[str, str]:
    """The environment of a benchmarked `assistant` process: its own data dir, an empty config file
    (a named config file must exist), no hub, this checkout on the path, bytecode cached, no
    resident agent unless `extra` asks for one."""
    import os

    config = Path(data_dir) / "none.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.touch()
    # Without PYTHONDONTWRITEBYTECODE (set on this machine): a user's first start writes the bytecode
    # cache, as pip does at install; inherited, every run compiled this checkout's modules again.
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **inherited, "ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_CONFIG": str(config),
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": str(ROOT),
        # `assistant ask` answers in its own process, as these benches have always timed it; a bench
        # timing the resident agent (bench_startup) says so and stops the agents it started.
        "ASSISTANT_KEEP_ALIVE": "0", **extra,
    }


def machine(**extra: object) -> dict:
    """The CPU every figure was measured on (model, the features kernels depend on, usable CPUs,
    whether native bf16 is hidden by ASSISTANT_CPU_CAPABILITY) and the load on it."""
    import os

    from assistant.local.cpu import cpu_info

    return {**cpu_info().to_json(), "load_average": os.getloadavg(), "python": platform.python_version(), **extra}


def print_machine(**extra: object) -> dict:
    """Print the machine line every bench starts with; returns it for the results file."""
    from assistant.local.cpu import cpu_info

    info = machine(**extra)
    print(f"CPU: {cpu_info().describe()}; load average {info['load_average'][0]:.1f} "
          "(a shared machine: other processes' load is in every figure)", flush=True)
    return info


def spread(samples: list[float]) -> float:
    """Relative spread of repeated measurements: (p90 - p10) / median."""
    if len(samples) < 2:
        return 0.0
    ordered = sorted(samples)
    lo = ordered[int(0.1 * (len(ordered) - 1))]
    hi = ordered[round(0.9 * (len(ordered) - 1))]
    middle = statistics.median(ordered)
    return (hi - lo) / middle if middle else 0.0


def repeat_noise(samples: list[float], period: int) -> float:
    """Noise of measurements taken in rounds of `period` different requests: the median, over the
    requests, of each one's relative spread across rounds (different requests differ for real
    reasons, which is not noise)."""
    spreads = [spread(samples[i::period]) for i in range(period) if len(samples[i::period]) > 1]
    return statistics.median(spreads) if spreads else 0.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    limit: float
    unit: str
    noise: float
    higher_is_better: bool = False

    @property
    def margin(self) -> float:
        return max(MIN_NOISE, self.noise)

    @property
    def met(self) -> bool:
        if self.higher_is_better:
            return self.value >= self.limit * (1 - self.margin)
        return self.value <= self.limit * (1 + self.margin)

    def line(self) -> str:
        sign = "≥" if self.higher_is_better else "≤"
        verdict = "met" if self.met else "MISSED"
        return (f"  {self.name:<44} {self.value:>9.3f} {self.unit:<5} target {sign} {self.limit:g} {self.unit}"
                f"  (noise ±{self.margin:.0%})  {verdict}")


def finish(name: str, record: dict, targets: list[Target]) -> int:
    """Print the targets, write bench/results/<name>.json, and return the exit code."""
    print("targets:")
    for target in targets:
        print(target.line())
    record = {
        **record,
        "targets": [{**asdict(t), "met": t.met, "margin": t.margin} for t in targets],
        "machine": machine(),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0 if all(t.met for t in targets) else 1
