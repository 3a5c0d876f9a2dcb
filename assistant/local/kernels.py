"""The linear layers' kernels for `assistant.local.decoding`, chosen per weight matrix, and their saved form.

torch's fp32 and bf16 matrix-vector products reach only 5-7 GB/s on this project's 2-core AVX-512
machine, while its int4 group-quantised kernel (`_weight_int4pack_mm_for_cpu`) and fbgemm's
dynamic int8 linear run the same layers 5-12x faster. The bundled model was dequantised from GGUF
(Q4_1 layers, Q8_0 embeddings), so its matrices are exactly representable in 4-bit groups of 32:
`linear_for` checks that per matrix and packs them losslessly. `save_linear`/`load_linear` give
a kernel's tensors a flat, named form for `assistant.local.prepared`.

Importing this module imports torch.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import torch
import torch.nn.functional as F

DTYPES = ("auto", "float32", "bfloat16", "int4", "int8")
"""`auto` is measured: `assistant.local.tuning` times the `KINDS` on this CPU and keeps the fastest
per kind of matrix and shape; the others force one kind for every linear layer."""

_GROUP = 32  # GGUF Q4_0/Q4_1/Q8_0 block size, and the int4 kernel's group size


# --- linear kernels ----------------------------------------------------------------------------------


class Linear(Protocol):
    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class _Dense:
    """Plain `F.linear` in a fixed dtype; the input is cast to it."""

    def __init__(self, weight: torch.Tensor, dtype: torch.dtype) -> None:
        self.weight = weight.detach().to(dtype).contiguous()
        self.dtype = dtype

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(self.dtype), self.weight)


class _Int4:
    """Asymmetric 4-bit groups of 32 along the input dim (GGUF Q4_1's layout), bf16 activations.

    The int4 kernel is a matrix-vector product at heart: for a prompt (many rows) it costs ~2.5x
    a bf16 matrix product, so a bf16 copy of the weight, when given, serves prompts.
    """

    def __init__(self, packed: torch.Tensor, scales_zeros: torch.Tensor, dense: torch.Tensor | None = None) -> None:
        self.packed, self.scales_zeros, self.dense = packed, scales_zeros, dense

    @classmethod
    def from_groups(
        cls, codes: torch.Tensor, scale: torch.Tensor, low: torch.Tensor, dense: torch.Tensor | None = None
    ) -> "_Int4":
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes.to(torch.int32).contiguous(), 1)
        zero = low + 8 * scale  # the kernel computes (code - 8) * scale + zero
        scales_zeros = torch.stack([scale.t(), zero.t()], -1).contiguous().to(torch.bfloat16)
        return cls(packed, scales_zeros, None if dense is None else dense.detach().to(torch.bfloat16).contiguous())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.bfloat16)
        if self.dense is not None and x.shape[0] > 1:
            return F.linear(x, self.dense)
        return torch.ops.aten._weight_int4pack_mm_for_cpu(x, self.packed, _GROUP, self.scales_zeros)


class _Int8Dynamic:
    """fbgemm's dynamic int8 linear: int8 per-row weights, activations quantised per call.

    fbgemm's packed form is opaque, so the saved form is the int8 codes and row scales, packed again
    on load (~0.1 s for the bundled model)."""

    def __init__(self, codes: torch.Tensor, scale: torch.Tensor) -> None:
        self.codes, self.scale = codes.contiguous(), scale.float().contiguous()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantized tensors are deprecated in favour of torchao
            qweight = torch._make_per_channel_quantized_tensor(
                self.codes, self.scale.double(), torch.zeros(codes.shape[0], dtype=torch.long), 0
            )
            self.packed = torch.ops.quantized.linear_prepack(qweight, None)

    @classmethod
    def from_weight(cls, weight: torch.Tensor, *, savable: bool = True) -> "_Int8Dynamic":
        """savable=False keeps only fbgemm's packed form: half the memory, and it cannot be saved."""
        w = weight.detach().float()
        scale = (w.abs().amax(1) / 127).clamp_min(1e-12)
        codes = (w / scale[:, None]).round_().clamp_(-127, 127).to(torch.int8)
        made = cls(codes, scale)
        if not savable:
            made.codes = None  # type: ignore[assignment]
        return made

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x.float(), self.packed, True)


class _ByRows:
    """One kernel for a single row (a decoded token), another for many (a prompt): the fastest of
    each is often not the same (a matrix-vector product is memory-bound, a prompt's is not)."""

    def __init__(self, one: Linear, many: Linear) -> None:
        self.one, self.many = one, many

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.one(x) if x.shape[0] == 1 else self.many(x)


class _Int8Split:
    """Symmetric 8-bit groups of 32 (GGUF Q8_0's layout) as two exact 4-bit halves, bf16 activations.

    torch has no grouped int8 kernel; code + 128 = 16 * high + low, so the high and low nibbles are
    two int4 matrices whose products add up to the 8-bit one, still ~2.5x faster than bf16 here.
    """

    def __init__(self, high: _Int4, low: _Int4) -> None:
        self.high, self.low = high, low

    @classmethod
    def from_groups(cls, codes: torch.Tensor, scale: torch.Tensor) -> "_Int8Split":
        shifted = codes.to(torch.int32) + 128
        high, low = shifted >> 4, shifted & 15
        # weight = 16 * scale * high - 128 * scale + scale * low
        return cls(_Int4.from_groups(high, 16 * scale, -128 * scale), _Int4.from_groups(low, scale, torch.zeros_like(scale)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.bfloat16)
        return self.high(x).float() + self.low(x)


def _int8_groups(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Symmetric 8-bit codes and per-group scale of `weight`, and the worst error in steps."""
    blocks = weight.detach().float().view(weight.shape[0], -1, _GROUP)
    scale = blocks.abs().amax(-1, keepdim=True) / 127
    steps = blocks / torch.where(scale == 0, torch.ones_like(scale), scale)
    codes = steps.round()
    error = steps.sub_(codes).abs_().max().item()
    return codes.view_as(weight), scale.squeeze(-1), error


def _int4_groups(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """4-bit codes, per-group scale and minimum of `weight`, and the worst error in steps."""
    blocks = weight.detach().float().view(weight.shape[0], -1, _GROUP)
    low, high = torch.aminmax(blocks, dim=-1, keepdim=True)
    scale = (high - low) / 15
    steps = (blocks - low).div_(torch.where(scale == 0, torch.ones_like(scale), scale))
    codes = steps.round()
    error = steps.sub_(codes).abs_().max().item()
    return codes.view_as(weight), scale.squeeze(-1), low.squeeze(-1), error


KINDS = ("int4", "int8split", "bf16", "fp32")
"""The kernels `auto` chooses among by measuring (`assistant.local.tuning`): int4 and int8split only
where they keep the weights exactly (GGUF's 4-bit and 8-bit groups). Not fbgemm's dynamic int8
(dtype "int8"), though often the fastest: quantising the activations per call changed the bundled
model's greedy replies against fp32 on 2 of 3 prompts within 16 tokens as the token kernel, and on
3 of 3 as the prompt kernel (one scale for all of a prompt's rows), where int4 + bf16 kept them."""


def kernel(weight: torch.Tensor, kind: str, *, exact: bool = True) -> Linear | None:
    """`weight` on the `kind` kernel; None when that kind cannot hold it (exactly, with `exact`)."""
    grouped = weight.shape[1] % _GROUP == 0
    if kind == "fp32":
        return _Dense(weight, torch.float32)
    if kind == "bf16":
        return _Dense(weight, torch.bfloat16)
    if kind == "int8":
        return _Int8Dynamic.from_weight(weight)
    if kind == "int4" and grouped:
        codes, scale, low, error = _int4_groups(weight)
        return _Int4.from_groups(codes, scale, low) if error < 1e-3 or not exact else None
    if kind == "int8split" and grouped:
        codes, scale, error = _int8_groups(weight)
        return _Int8Split.from_groups(codes, scale) if error < 1e-3 or not exact else None
    return None


def by_rows(weight: torch.Tensor, one: str, many: str) -> Linear:
    """The kernel for `(one, many)` kinds as `assistant.local.tuning` chose them (fp32 if one cannot be built)."""
    single = kernel(weight, one) or _Dense(weight, torch.float32)
    if many == one:
        return single
    return _ByRows(single, kernel(weight, many) or _Dense(weight, torch.float32))


def int8_unsaved(weight: torch.Tensor) -> Linear:
    """fbgemm's dynamic int8 kernel for a copy of `weight` that is never saved (the batched
    decoding's): only the packed form is kept."""
    return _Int8Dynamic.from_weight(weight, savable=False)


def plain_weight(linear: Linear) -> torch.Tensor | None:
    """The kernel's weight as a plain tensor when it keeps one (a dense kernel, or the dense copy
    beside packed int4 codes), else None."""
    for kernel in (getattr(linear, "many", None), linear):
        if isinstance(kernel, _Dense):
            return kernel.weight
        if isinstance(kernel, _Int4) and kernel.dense is not None:
            return kernel.dense
    return None


def linear_for(weight: torch.Tensor, dtype: str) -> Linear:
    """`weight` on the kernel a fixed `dtype` asks for (not "auto": that one is measured)."""
    if dtype == "float32":
        return _Dense(weight, torch.float32)
    if dtype == "int8":
        return _Int8Dynamic.from_weight(weight)
    if dtype == "int4" and weight.shape[1] % _GROUP == 0:
        codes, scale, low, _ = _int4_groups(weight)
        return _Int4.from_groups(codes, scale, low, dense=weight)
    return _Dense(weight, torch.bfloat16)


def head_for(weight: torch.Tensor, dtype: str) -> Linear:
    """The output projection under a fixed `dtype`: int4 would not hold its 8-bit weights, so bf16."""
    return linear_for(weight, "bfloat16" if dtype == "int4" else dtype)


def save_linear(linear: Linear, prefix: str, out: dict[str, torch.Tensor]) -> str:
    """Put `linear`'s tensors in `out` under `prefix`; returns its kind, for `load_linear`."""
    if isinstance(linear, _Dense):
        out[f"{prefix}.weight"] = linear.weight
        return "dense"
    if isinstance(linear, _Int4):
        out[f"{prefix}.packed"], out[f"{prefix}.scales_zeros"] = linear.packed, linear.scales_zeros
        if linear.dense is not None:
            out[f"{prefix}.dense"] = linear.dense
        return "int4"
    if isinstance(linear, _Int8Split):
        save_linear(linear.high, f"{prefix}.high", out)
        save_linear(linear.low, f"{prefix}.low", out)
        return "int8split"
    if isinstance(linear, _Int8Dynamic):
        out[f"{prefix}.codes"], out[f"{prefix}.scale"] = linear.codes, linear.scale
        return "int8"
    if isinstance(linear, _ByRows):
        return f"rows:{save_linear(linear.one, f'{prefix}.one', out)}:{save_linear(linear.many, f'{prefix}.many', out)}"
    raise TypeError(f"{type(linear).__name__} layers cannot be saved")


def load_linear(kind: str, prefix: str, tensors: dict[str, torch.Tensor]) -> Linear:
    if kind == "dense":
        weight = tensors[f"{prefix}.weight"]
        return _Dense(weight, weight.dtype)
    if kind == "int4":
        return _Int4(tensors[f"{prefix}.packed"], tensors[f"{prefix}.scales_zeros"], tensors.get(f"{prefix}.dense"))
    if kind == "int8split":
        return _Int8Split(load_linear("int4", f"{prefix}.high", tensors), load_linear("int4", f"{prefix}.low", tensors))
    if kind == "int8":
        return _Int8Dynamic(tensors[f"{prefix}.codes"], tensors[f"{prefix}.scale"])
    if kind.startswith("rows:"):
        _, one, many = kind.split(":")
        return _ByRows(load_linear(one, f"{prefix}.one", tensors), load_linear(many, f"{prefix}.many", tensors))
    raise ValueError(f"unknown kind of layer {kind!r}")
