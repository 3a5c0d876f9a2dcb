"""`auto` means measured: the kernels and thread counts that decode fastest on this CPU.

What is fastest differs by machine. On a Xeon with native bf16 (avx512_bf16, AMX) the int4
kernels with bf16 activations beat fbgemm's int8; on one without, they are 2.5x slower than it,
and two threads beat one by 1.7x when nothing else runs. So when the prepared weights are built,
every candidate kernel (`kernels.KINDS`) is timed on the model's own matrices — one layer's four
and the output head — for a single row (a decoded token) and a prompt's rows, on 1..usable CPUs
threads, a few milliseconds a sample. Candidates are measured interleaved (A, B, C, A, B, C, …)
and compared by medians, so load from other processes falls on all of them alike. The thread
counts are then timed on the built runner itself, a token's and a whole prompt's forward pass
(`with_measured_threads`): the products alone do not predict them. The plan is saved with the
prepared weights, with the CPU it was measured on (`assistant.local.prepared`).

Importing this module imports torch.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from assistant.local.cpu import cpu_info, others_running
from assistant.local.kernels import KINDS, Linear, kernel

PROMPT_ROWS = 128  # a typical prompt's length in this project (system prompt, recalled memories, request)
SAMPLE_S = 0.004  # each timing sample lasts at least this long
ROUNDS = (3, 7)  # at least, at most: more while the budget lasts
BUDGET_S = 2.0
MAX_THREADS = 8


@dataclass(frozen=True)
class KernelPlan:
    """What `auto` decodes with: kinds of kernel per matrix role and shape, and thread counts."""

    layers: tuple[str, str]  # (one row, many rows) for the layers' four matrices
    head: str  # the output head (only ever fed one row)
    decode_threads: int
    prefill_threads: int
    cpu: dict[str, Any] = field(default_factory=dict, compare=False)  # CpuInfo.to_json() of the machine
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)  # median per candidate
    measured_s: float = field(default=0.0, compare=False)
    others_running: int = field(default=0, compare=False)  # other runnable tasks when measured (load)
    second_look: bool = field(default=False, compare=False)  # measured again after a busy first time
    head_threads: int | None = None  # the output head's threads in the token loop; None: decode_threads
    attention: str = "torch"  # a decoded token's attention: "torch" or "native" (assistant.local.native_attention)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "KernelPlan":
        return cls(
            layers=(str(data["layers"][0]), str(data["layers"][1])), head=str(data["head"]),
            decode_threads=int(data["decode_threads"]), prefill_threads=int(data["prefill_threads"]),
            cpu=dict(data.get("cpu") or {}), timings_ms={k: float(v) for k, v in (data.get("timings_ms") or {}).items()},
            measured_s=float(data.get("measured_s") or 0.0), others_running=int(data.get("others_running") or 0),
            second_look=bool(data.get("second_look")),
            head_threads=int(data["head_threads"]) if data.get("head_threads") else None,
            attention=str(data.get("attention") or "torch"),
        )

    def describe(self) -> str:
        one, many = self.layers
        head = f" (head {self.head_threads})" if self.head_threads not in (None, self.decode_threads) else ""
        return (f"layers {one} (token) / {many} (prompt), head {self.head}, {self.attention} attention, "
                f"{self.decode_threads} decode{head} / {self.prefill_threads} prompt thread(s)")


def measure_plan(layer: Sequence[torch.Tensor], head: torch.Tensor, n_layers: int, *,
                 threads: Sequence[int] | None = None, budget_s: float = BUDGET_S) -> KernelPlan:
    """Time every candidate on `layer` (one layer's weight matrices: qkv, out, gate_up, down) and
    `head`, and keep the fastest; a layer counts `n_layers` times in a token's cost."""
    started = time.perf_counter()
    info, busy = cpu_info(), others_running()
    counts = list(threads or range(1, min(MAX_THREADS, info.usable_cpus) + 1))
    layer_kernels = _candidates(layer)
    head_kernels = _candidates([head])
    one = [torch.randn(1, w.shape[1]) for w in layer]
    many = [torch.randn(PROMPT_ROWS, w.shape[1]) for w in layer]
    head_in = [torch.randn(1, head.shape[1])]
    cells: dict[str, Cell] = {}
    for count in counts:  # every thread count in the same rounds too: load drifts between them alike
        cells.update({f"layer one {kind} t{count}": (count, _call(ks, one)) for kind, ks in layer_kernels.items()})
        cells.update({f"layer many {kind} t{count}": (count, _call(ks, many)) for kind, ks in layer_kernels.items()})
        cells.update({f"head {kind} t{count}": (count, _call(ks, head_in)) for kind, ks in head_kernels.items()})
    before = torch.get_num_threads()
    try:
        with torch.inference_mode():
            timings = interleaved(cells, budget_s)
    finally:
        torch.set_num_threads(before)

    def best(role: str, count: int, kinds: Sequence[str]) -> tuple[float, str]:
        return min((timings[f"{role} {kind} t{count}"], kind) for kind in kinds)

    decode = {c: n_layers * best("layer one", c, list(layer_kernels))[0] + best("head", c, list(head_kernels))[0]
              for c in counts}
    prefill = {c: n_layers * best("layer many", c, list(layer_kernels))[0] for c in counts}
    decode_threads = min(decode, key=decode.__getitem__)
    prefill_threads = min(prefill, key=prefill.__getitem__)
    return KernelPlan(
        layers=(best("layer one", decode_threads, list(layer_kernels))[1],
                best("layer many", prefill_threads, list(layer_kernels))[1]),
        head=best("head", decode_threads, list(head_kernels))[1],
        decode_threads=decode_threads, prefill_threads=prefill_threads, cpu=info.to_json(),
        timings_ms={k: round(v * 1000, 4) for k, v in timings.items()},
        measured_s=round(time.perf_counter() - started, 2), others_running=busy,
    )


LOOP_CONTEXT = 64  # tokens already in the cache when the token loop is timed
LOOP_BUDGET_S = 1.5
PROMPT_BUDGET_S = 2.0  # the prompt's rounds: each call is a whole prompt's forward pass (~0.1-0.5 s)


def with_measured_threads(plan: KernelPlan, runner: Any, *, budget_s: float = LOOP_BUDGET_S,
                          prompt_budget_s: float = PROMPT_BUDGET_S) -> KernelPlan:
    """`plan` with its thread counts chosen by timing `runner` (built with the plan's kernels)
    itself: one token's forward pass at each thread count, and with the output head on every
    usable CPU while the layers keep fewer; then a whole prompt's forward pass at each count.

    The per-matrix timings add up the products alone. Between them a token runs ~25 small ops a
    layer (norms, rotary, attention, the residual) on one thread while the other OpenMP workers
    spin, and on this project's 2-core machine, whose two CPUs share a core, that made the loop
    slower at 2 threads (28 tokens/s) than at 1 (39) though every product alone was faster at 2.
    The head is one large product at the end of the token (a quarter of its time here), so it can
    gain from threads the layers lose on. The prompt's products are timed while the agent's own
    start-up work runs beside them (memory opens while the model loads): with AMX hidden they
    once said one thread, where a 900-token prompt took 3.9 s on one and 2.1 s on two.
    """
    counts = sorted({int(k.rsplit(" t", 1)[1]) for k in plan.timings_ms if k.startswith("layer one ")}) or [1]
    if len(counts) < 2:
        return plan
    most = max(counts)
    variants = {f"loop t{c}": (c, None) for c in counts}
    variants.update({f"loop t{c} head t{most}": (c, most) for c in counts if c < most})
    before, head_before = torch.get_num_threads(), getattr(runner, "head_threads", None)
    try:
        with torch.inference_mode():
            session = runner.session(LOOP_CONTEXT + 1)
            session.feed(list(range(1, LOOP_CONTEXT + 1)))

            def one_token(head: int | None) -> Callable[[], None]:
                def run() -> None:
                    runner.head_threads = head
                    session.rewind(LOOP_CONTEXT)
                    session.feed([LOOP_CONTEXT + 1])
                return run

            timings = interleaved({name: (c, one_token(h)) for name, (c, h) in variants.items()}, budget_s)
            runner.head_threads = head_before
            prompt = runner.session(PROMPT_ROWS)

            def one_prompt() -> None:
                prompt.rewind(0)
                prompt.feed(list(range(1, PROMPT_ROWS + 1)))

            timings.update(interleaved({f"prompt t{c}": (c, one_prompt) for c in counts}, prompt_budget_s))
    finally:
        torch.set_num_threads(before)
        runner.head_threads = head_before
    best = min(variants, key=timings.__getitem__)
    threads, head = variants[best]
    prefill = min(counts, key=lambda c: timings[f"prompt t{c}"])
    return dataclasses.replace(
        plan, decode_threads=threads, head_threads=head, prefill_threads=prefill,
        timings_ms={**plan.timings_ms, **{k: round(v * 1000, 4) for k, v in timings.items()}},
    )


ATTEND_CONTEXT = 640  # tokens in the cache when attention is timed: a recalled prompt and part of a reply
ATTEND_BUDGET_S = 1.0


def with_measured_attention(plan: KernelPlan, runner: Any, *, budget_s: float = ATTEND_BUDGET_S) -> KernelPlan:
    """`plan` with the attention that decodes a token faster on `runner` at ATTEND_CONTEXT cached
    tokens: torch's or the compiled one (when it builds here), the whole token timed each way with
    the plan's threads. What attention costs grows with the context, so it is timed on one as
    long as a turn's, not the token loop's 64."""
    from assistant.local.native_attention import load

    native = load(runner.group, runner.head_dim)
    if native is None:
        return dataclasses.replace(plan, attention="torch")
    before, threads_before = runner.native_attention, torch.get_num_threads()
    try:
        with torch.inference_mode():
            cells = {}
            for name, attention in (("torch", None), ("native", native)):
                runner.native_attention = attention
                session = runner.session(ATTEND_CONTEXT + 1)
                session.feed(list(range(1, ATTEND_CONTEXT + 1)))

                def one_token(session: Any = session) -> None:
                    session.rewind(ATTEND_CONTEXT)
                    session.feed([ATTEND_CONTEXT + 1])

                cells[f"attend {name}"] = (plan.decode_threads, one_token)
            timings = interleaved(cells, budget_s)
    finally:
        runner.native_attention = before
        torch.set_num_threads(threads_before)
    chosen = "native" if timings["attend native"] < timings["attend torch"] else "torch"
    return dataclasses.replace(plan, attention=chosen, timings_ms={
        **plan.timings_ms, **{k: round(v * 1000, 4) for k, v in timings.items()}})


Cell = tuple[int, Callable[[], object]]  # (torch threads, one call)


def interleaved(cells: dict[str, Cell], budget_s: float = BUDGET_S) -> dict[str, float]:
    """Median seconds per call of each cell, sampled in turn (round-robin, the order rotating),
    for ROUNDS[0] rounds and then more while `budget_s` lasts, up to ROUNDS[1]."""
    started = time.perf_counter()
    reps = {}
    for name, (threads, call) in cells.items():  # warm-up (page faults, oneDNN set-up), samples' size
        torch.set_num_threads(threads)
        call()
        t = time.perf_counter()
        call()
        reps[name] = max(1, math.ceil(SAMPLE_S / max(time.perf_counter() - t, 1e-6)))
    samples: dict[str, list[float]] = {name: [] for name in cells}
    names = list(cells)
    for round_no in range(ROUNDS[1]):
        if round_no >= ROUNDS[0] and time.perf_counter() - started > budget_s:
            break
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            (threads, call), n = cells[name], reps[name]
            torch.set_num_threads(threads)
            t = time.perf_counter()
            for _ in range(n):
                call()
            samples[name].append((time.perf_counter() - t) / n)
    return {name: statistics.median(values) for name, values in samples.items()}


def _candidates(weights: Sequence[torch.Tensor]) -> dict[str, list[Linear]]:
    """Each kind that can hold every one of `weights` (exactly, for the grouped kinds)."""
    found = {}
    for kind in KINDS:
        kernels = [kernel(w, kind) for w in weights]
        if all(k is not None for k in kernels):
            found[kind] = kernels
    return found


def _call(kernels: list[Linear], inputs: list[torch.Tensor]) -> Callable[[], object]:
    def run() -> None:
        for k, x in zip(kernels, inputs):
            k(x)
    return run
