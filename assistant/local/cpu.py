"""What this CPU is, as far as choosing kernels goes, and a way to hide its native bf16.

Which kernel decodes fastest depends on the CPU: the int4 kernels with bf16 activations are fast
where the CPU computes bf16 natively (`avx512_bf16`, AMX) and 2.5x slower than fbgemm's int8 where
it does not. The choice is made by measuring (`assistant.local.tuning`); this module says what
the machine is, so the choice can be recorded with it and a prepared file is reused only on the
kind of machine it was measured on.

`ASSISTANT_CPU_CAPABILITY=avx512|avx2` hides the newer instructions from torch (ATen's dispatch,
`ATEN_CPU_CAPABILITY`) and oneDNN (`ONEDNN_MAX_CPU_ISA`): with `avx512` a Sapphire Rapids machine
decodes as an AVX-512 one without native bf16 or AMX, so a bench can measure both kinds of CPU on
one machine. Both variables are read when torch loads, so `apply_forced_capability` runs before
the engine imports torch (from `assistant.local`'s import).

Importing this module is cheap (no torch).
"""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import asdict, dataclass

FORCE_ENV = "ASSISTANT_CPU_CAPABILITY"
_FORCED = {  # ours -> (ATen's capability, oneDNN's highest ISA)
    "avx512": ("avx512", "AVX512_CORE_VNNI"),
    "avx2": ("avx2", "AVX2_VNNI"),
    "default": ("default", "SSE41"),
}
_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile")
_BF16 = {"avx512_bf16", "amx_bf16"}


@dataclass(frozen=True)
class CpuInfo:
    model: str
    features: tuple[str, ...]  # the flags that matter to the kernels, as the OS reports them
    forced: str | None  # ASSISTANT_CPU_CAPABILITY, when set
    usable_cpus: int

    @property
    def native_bf16(self) -> bool:
        """bf16 arithmetic in hardware, and not hidden by ASSISTANT_CPU_CAPABILITY."""
        return self.forced is None and bool(_BF16 & set(self.features))

    def describe(self) -> str:
        shown = ", ".join(self.features) or "no AVX2"
        hidden = f"; forced to {self.forced} (native bf16 hidden)" if self.forced else ""
        return f"{self.model} ({self.usable_cpus} usable CPUs; {shown}{hidden})"

    def to_json(self) -> dict:
        return {**asdict(self), "native_bf16": self.native_bf16}


def apply_forced_capability() -> str | None:
    """Map ASSISTANT_CPU_CAPABILITY onto torch's and oneDNN's own variables (which win if set)."""
    forced = (os.environ.get(FORCE_ENV) or "").strip().lower() or None
    if forced is None:
        return None
    if forced not in _FORCED:  # read at import: a typo must not stop the assistant, only be said
        logging.getLogger(__name__).warning("ignoring %s=%s; use one of %s", FORCE_ENV, forced, ", ".join(_FORCED))
        return None
    aten, onednn = _FORCED[forced]
    os.environ.setdefault("ATEN_CPU_CAPABILITY", aten)
    os.environ.setdefault("ONEDNN_MAX_CPU_ISA", onednn)
    return forced


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 2


def cpu_info() -> CpuInfo:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:  # not Linux: the model name from platform, no flags
        pass
    forced = (os.environ.get(FORCE_ENV) or "").strip().lower() or None
    forced = forced if forced in _FORCED else None
    return CpuInfo(model=model, features=tuple(f for f in _FLAGS if f in flags), forced=forced, usable_cpus=usable_cpus())


def others_running() -> int:
    """Runnable tasks on the machine besides this process's own, now (Linux's /proc/loadavg; 0 elsewhere).

    A snapshot, not an average: the load average lags by a minute and counts our own decoding.
    Our own threads are not "others": after a product torch's OpenMP workers spin for a while, and
    counting them made a free machine look busy, so decoding fell back to one thread (1.5x slower)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as file:
            running = int(file.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, running - max(1, runnable_here()))


def runnable_here() -> int:
    """This process's threads that are running or runnable now (state R in /proc/self/task)."""
    count = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat", "rb") as file:
                stat = file.read()
        except OSError:  # the thread ended meanwhile
            continue
        end = stat.rfind(b")")  # the name may hold spaces and parentheses; the state follows it
        count += stat[end + 2 : end + 3] == b"R"
    return count


def capability_key() -> str:
    """What a prepared file's kernels depend on: torch's dispatch level and oneDNN's ISA limit."""
    import torch

    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "")
    return torch.backends.cpu.get_cpu_capability() + (f"-{isa.lower()}" if isa else "")
