"""Several samples of one prompt decoded together, one token of each per forward pass.

Choosing among candidates by running them (the coding chain's completions) needs many samples of
the same prompt. Decoded one after another, each token reads every weight matrix once per sample;
decoded together, the products take all the samples' rows at once and read each matrix once for
all of them, while attention stays per sample. The prompt is read once (through the prefix cache,
so a greedy call just before has usually read it already) and its keys and values are copied to
every sample's rows.

The products of a step have a few rows. The runner's kernels are chosen for one row (a token) and
for hundreds (a prompt); neither suits 8-16: here torch's bf16 product costs 3x for 8 rows what the
int4 kernel costs for one, while fbgemm's dynamic int8 takes 8 rows for about the cost of one. So
the first batch times both on one of the model's matrices, on this CPU, and keeps the faster:
int8 copies of the layers and the head are made from the runner's own weights and kept with the
runner (fbgemm's packed form only): for the bundled model ~190 MB more resident memory and ~3 s,
once a process.

Only `LlamaRunner` decodes this way; other runners have no batched session.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F

from assistant.local.decoding import _LINEARS, LlamaRunner
from assistant.local.generation import Sampling, choose_token, prompt_read
from assistant.local.kernels import Linear, int8_unsaved, plain_weight

BATCH_ROWS = 8   # the rows the kernels are timed with


def weight_of(linear: Linear, inputs: int) -> torch.Tensor:
    """The fp32 weight behind any kernel: its plain copy when it keeps one, else read back by
    multiplying the identity (exact up to the kernel's own precision)."""
    plain = plain_weight(linear)
    if plain is not None:
        return plain.float()
    with torch.inference_mode():
        return linear(torch.eye(inputs)).float().t().contiguous()


def _time(linear: Linear, x: torch.Tensor, rounds: int = 20) -> float:
    with torch.inference_mode():
        linear(x)
        start = time.perf_counter()
        for _ in range(rounds):
            linear(x)
        return time.perf_counter() - start


def runner_kernels(runner: LlamaRunner) -> list[dict[str, Linear]]:
    """The runner's own kernels in `batch_kernels`' shape."""
    return [{name: getattr(layer, name) for name in _LINEARS} for layer in runner.layers] + [{"head": runner.head}]


def batch_kernels(runner: LlamaRunner) -> list[dict[str, Linear]]:
    """Per layer, the kernel of each product for a batch step, then {"head": ...} last: int8 copies
    when they are faster than the runner's own on BATCH_ROWS rows on this CPU (measured once per
    runner), else the runner's."""
    chosen = getattr(runner, "batch_kernels", None)
    if chosen is not None:
        return chosen
    own = runner_kernels(runner)
    hidden = runner.embed.shape[1]
    sizes = {"qkv": hidden, "out": runner.heads * runner.head_dim, "gate_up": hidden,
             "down": runner.intermediate, "head": hidden}
    probe = own[0]["gate_up"]
    int8 = int8_unsaved(weight_of(probe, sizes["gate_up"]))
    x = torch.randn(BATCH_ROWS, sizes["gate_up"])
    if min(_time(int8, x), _time(int8, x)) < min(_time(probe, x), _time(probe, x)):
        chosen = [{name: int8_unsaved(weight_of(linear, sizes[name])) for name, linear in layer.items()}
                  for layer in own]
    else:
        chosen = own
    runner.batch_kernels = chosen
    return chosen


class BatchSession:
    """`n` sequences sharing a prompt, each at the same position: feed one token of each, get
    the logits (n x vocabulary) after them. Rows of a sequence's kv heads are `b * kv + j`."""

    def __init__(self, runner: LlamaRunner, n: int, capacity: int, keys: torch.Tensor, values: torch.Tensor,
                 kernels: list[dict[str, Linear]] | None = None) -> None:
        layers, kv, length, dim = keys.shape
        shape = (layers, n * kv, capacity, dim)
        self.r, self.n, self.length = runner, n, length
        self.kernels = kernels or batch_kernels(runner)
        self.keys = torch.empty(shape)
        self.values = torch.empty(shape)
        self.keys[:, :, :length] = keys.repeat(1, n, 1, 1)
        self.values[:, :, :length] = values.repeat(1, n, 1, 1)

    def keep(self, rows: list[int]) -> None:
        """Drop every sequence but `rows` (in that order): a step costs by the rows it carries."""
        kv = self.r.kv_heads
        index = torch.tensor([b * kv + j for b in rows for j in range(kv)])
        self.keys, self.values = self.keys.index_select(1, index), self.values.index_select(1, index)
        self.n = len(rows)

    def feed(self, tokens: list[int]) -> torch.Tensor:
        with torch.inference_mode():
            return self._forward(tokens)

    def _forward(self, tokens: list[int]) -> torch.Tensor:
        r, n, pos = self.r, self.n, self.length
        if pos >= self.keys.shape[2]:
            raise ValueError(f"the KV cache holds {self.keys.shape[2]} tokens; {pos + 1} were fed")
        heads, kv, dim = r.heads, r.kv_heads, r.head_dim
        cos, sin = r.rope(pos + 1)
        cos, sin = cos[pos : pos + 1, None], sin[pos : pos + 1, None]
        x = r.embed[torch.tensor(tokens)]
        for i, (layer, kernels) in enumerate(zip(r.layers, self.kernels[:-1])):
            h = F.rms_norm(x, (x.shape[-1],), layer.attn_norm, r.eps)
            qkv = kernels["qkv"](h).float().view(n, heads + 2 * kv, dim)
            qk = qkv[:, : heads + kv]
            swapped = qk.view(n, heads + kv, 2, dim // 2).flip(2).view(n, heads + kv, dim)
            qk = qk * cos + swapped * sin
            keys, values = self.keys[i, :, : pos + 1], self.values[i, :, : pos + 1]
            keys[:, pos] = qk[:, heads:].reshape(n * kv, dim)
            values[:, pos] = qkv[:, heads + kv :].reshape(n * kv, dim)
            q = qk[:, :heads].reshape(n * kv, heads // kv, dim)
            scores = torch.bmm(q, keys.transpose(1, 2)).mul_(r.scale)
            attended = torch.bmm(torch.softmax(scores, -1), values).reshape(n, heads * dim)
            x = x + kernels["out"](attended)
            h = F.rms_norm(x, (x.shape[-1],), layer.mlp_norm, r.eps)
            gate_up = kernels["gate_up"](h)
            x = x + kernels["down"](F.silu(gate_up[:, : r.intermediate]) * gate_up[:, r.intermediate :])
        self.length = pos + 1
        return self.kernels[-1]["head"](F.rms_norm(x, (x.shape[-1],), r.norm, r.eps)).float()


def decode_batch(
    runner: LlamaRunner,
    prompt: list[int],
    n: int,
    *,
    max_new_tokens: int,
    sampling: Sampling,
    stop_ids: frozenset[int] = frozenset(),
    generator: torch.Generator | None = None,
    threads: tuple[int, int] | None = None,
    cache: Any = None,
    ended: Callable[[int], bool] = lambda b: False,
) -> Iterator[list[int | None]]:
    """Yield, per step, the next token of each of `n` samples (None for a sample that has ended:
    a stop id is yielded once, then None). A sample also ends when `ended(b)` says so after a step
    (the caller's stop strings); its rows leave the batch. Ends when every sample has ended or after
    `max_new_tokens`.

    `threads` is (prompt, batch step): a step's products have n rows, shaped like a short prompt's."""
    if max_new_tokens <= 0 or n <= 0:
        return
    capacity = len(prompt) + max_new_tokens
    with prompt_read(runner, prompt, capacity, threads[0] if threads else None, cache) as (session, logits):
        single = getattr(session, "_session", session)  # the prefix cache's tracked session wraps it
        length = len(prompt)
        batch = BatchSession(runner, n, capacity, single.keys[:, :, :length], single.values[:, :, :length])
    if threads is not None:
        torch.set_num_threads(threads[1])
    logits = logits.expand(n, -1)
    seen = [list(prompt) if sampling.repetition_penalty != 1.0 else [] for _ in range(n)]
    live = list(range(n))   # the samples still decoding, in the batch's row order
    for produced in range(1, max_new_tokens + 1):
        step: list[int | None] = [None] * n
        for row, b in enumerate(live):
            step[b] = choose_token(logits[row], sampling, seen[b], generator)
            if seen[b]:
                seen[b].append(step[b])
        yield step
        going = [row for row, b in enumerate(live) if step[b] not in stop_ids and not ended(b)]
        if not going or produced == max_new_tokens:
            return
        if len(going) < len(live):
            batch.keep(going)
            live = [live[row] for row in going]
        logits = batch.feed([step[b] for b in live])
