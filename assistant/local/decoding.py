"""Token-by-token decoding of local causal LMs on a CPU, without `model.generate`.

For a 135M-parameter model the matrix products are small, so what a token costs is decided by how
they are computed and by the Python around them. Measured on this project's 2-core AVX-512 machine:
torch's fp32 and bf16 matrix-vector products reach only 5-7 GB/s, while its int4 group-quantised
kernel (`_weight_int4pack_mm_for_cpu`) and fbgemm's dynamic int8 linear run the same layers 5-12x
faster; `generate()` adds logits processors, stopping criteria and a streamer thread per token,
and the generic transformers forward builds masks and cache objects on every call.

So a Llama-architecture model runs through `LlamaRunner`: a lean forward over fused weights with a
preallocated KV cache, each matrix on the kernel `assistant.local.kernels` picks for it. Its weights keep the precision they really have: the bundled model was
dequantised from GGUF (Q4_1 layers, Q8_0 embeddings), so every matrix is exactly representable in
4-bit groups of 32 and is packed back into them losslessly; only the bf16 activations differ from
fp32. Result (bench/bench_generation.py, one thread): ~66 tokens/s against 18 for fp32
`generate` and 72 for llama.cpp on the GGUF itself; 99% top-1 agreement with fp32 under teacher
forcing. Other models fall back to `HFRunner`, the model's own forward with a `DynamicCache`
(on the bundled model in fp32, 18.8 tokens/s against 18.2 with a `StaticCache`).

Importing this module imports torch: do it only once a model is needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from assistant.local.kernels import DTYPES, Linear, by_rows, head_for, linear_for, load_linear, save_linear
from assistant.local.native_attention import BLOCK, padded
from assistant.local.native_attention import load as load_native_attention
from assistant.local.tuning import KernelPlan, measure_plan, with_measured_attention, with_measured_threads

__all__ = [
    "DTYPES",
    "HFRunner",
    "LlamaRunner",
    "Runner",
    "Session",
    "build_runner",
]


# --- runners -----------------------------------------------------------------------------------------


class Session(Protocol):
    """One generation's KV cache: feed tokens, get the logits (fp32, 1-D) after the last one."""

    def feed(self, ids: list[int]) -> torch.Tensor: ...


class Runner(Protocol):
    def session(self, capacity: int) -> Session: ...


class HFRunner:
    """Any transformers causal LM, through its own forward and a `DynamicCache`."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def session(self, capacity: int) -> Session:
        return _HFSession(self.model)


class _HFSession:
    def __init__(self, model: Any) -> None:
        from transformers import DynamicCache

        self.model = model
        self.cache = DynamicCache()
        self.length = 0

    def feed(self, ids: list[int]) -> torch.Tensor:
        with torch.inference_mode():
            positions = torch.arange(self.length, self.length + len(ids))
            out = self.model(
                input_ids=torch.tensor([ids]),
                past_key_values=self.cache,
                use_cache=True,
                cache_position=positions,
                logits_to_keep=1,
            )
            self.length += len(ids)
            return out.logits[0, -1].float()


@dataclass
class _Layer:
    attn_norm: torch.Tensor
    qkv: Linear
    out: Linear
    mlp_norm: torch.Tensor
    gate_up: Linear
    down: Linear


_LINEARS = ("qkv", "out", "gate_up", "down")


class LlamaRunner:
    """A lean forward pass for Llama-architecture models (SmolLM2, TinyLlama, Llama 2/3 without RoPE scaling).

    The residual stream, norms and attention stay in fp32; only the linear layers use the chosen
    kernels. q/k/v and gate/up are fused so a layer is 4 matrix products.
    """

    def __init__(self, model: Any, dtype: str = "auto", *, release: bool = False, plan: KernelPlan | None = None) -> None:
        """With `release`, each layer's source weights are dropped from `model` as soon as they are
        packed: resident memory then holds one copy of the weights, not the fp32 model as well
        (the model cannot run its own forward afterwards). With dtype "auto" the kernels are
        `plan`'s, measured here when not given (`assistant.local.tuning`)."""
        config = model.config
        self.plan = (plan or _measure(model)) if dtype == "auto" else None
        heads = config.num_attention_heads
        self._shape(
            heads=heads, kv_heads=config.num_key_value_heads,
            head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
            eps=float(config.rms_norm_eps), intermediate=config.intermediate_size, dtype=dtype,
        )
        with torch.inference_mode():
            self.layers = []
            for layer in model.model.layers:
                self.layers.append(self._layer(layer, dtype))
                if release:
                    _release(layer)
            # Own copies (clone): the loader's tensors may be views of the memory-mapped checkpoint,
            # which stays mapped (and resident) for as long as any view of it lives.
            self.norm = model.model.norm.weight.detach().float().clone()
            self.embed = model.model.embed_tokens.weight.detach().float().clone()
            head = model.lm_head.weight
            self.head = by_rows(head, self.plan.head, self.plan.head) if self.plan else head_for(head, dtype)
            if release:
                _release(model)  # what the runner kept (embeddings, norms) stays alive through it
            self.inv_freq = model.model.rotary_emb.inv_freq.detach().float().clone()
            self._cos, self._sin = self._rope_table(256)
        self.head_threads = None
        self.native_attention = None
        if self.plan is not None and plan is None:  # measured here: threads and attention on the runner itself
            self.plan = with_measured_threads(self.plan, self)
            self.head_threads = self.plan.head_threads
            self.plan = with_measured_attention(self.plan, self)
        self.native_attention = self._native_attention()

    def _shape(self, *, heads: int, kv_heads: int, head_dim: int, eps: float, intermediate: int, dtype: str) -> None:
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.group = heads // kv_heads  # query heads sharing a kv head
        self.eps, self.intermediate, self.dtype = eps, intermediate, dtype
        self.scale = head_dim**-0.5

    def to_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The prepared weights and the facts `from_tensors` needs to rebuild this runner without
        the model (see `assistant.local.prepared`). TypeError if a layer's kernel cannot be saved."""
        tensors = {"norm": self.norm, "embed": self.embed, "inv_freq": self.inv_freq}
        kinds = {"head": save_linear(self.head, "head", tensors)}
        for i, layer in enumerate(self.layers):
            tensors[f"layers.{i}.attn_norm"] = layer.attn_norm
            tensors[f"layers.{i}.mlp_norm"] = layer.mlp_norm
            for name in _LINEARS:
                kinds[f"layers.{i}.{name}"] = save_linear(getattr(layer, name), f"layers.{i}.{name}", tensors)
        facts = {
            "heads": self.heads, "kv_heads": self.kv_heads, "head_dim": self.head_dim, "eps": self.eps,
            "intermediate": self.intermediate, "dtype": self.dtype, "layers": len(self.layers), "kinds": kinds,
            "plan": self.plan.to_json() if self.plan else None,
        }
        return tensors, facts

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], facts: dict[str, Any]) -> "LlamaRunner":
        runner = cls.__new__(cls)
        runner._shape(
            heads=int(facts["heads"]), kv_heads=int(facts["kv_heads"]), head_dim=int(facts["head_dim"]),
            eps=float(facts["eps"]), intermediate=int(facts["intermediate"]), dtype=str(facts["dtype"]),
        )
        kinds = facts["kinds"]
        runner.layers = [
            _Layer(
                attn_norm=tensors[f"layers.{i}.attn_norm"], mlp_norm=tensors[f"layers.{i}.mlp_norm"],
                **{name: load_linear(kinds[f"layers.{i}.{name}"], f"layers.{i}.{name}", tensors) for name in _LINEARS},
            )
            for i in range(int(facts["layers"]))
        ]
        runner.norm, runner.embed, runner.inv_freq = tensors["norm"], tensors["embed"], tensors["inv_freq"]
        runner.head = load_linear(kinds["head"], "head", tensors)
        runner.plan = KernelPlan.from_json(facts["plan"]) if facts.get("plan") else None
        runner.head_threads = runner.plan.head_threads if runner.plan else None
        runner.native_attention = runner._native_attention()
        runner._cos, runner._sin = runner._rope_table(256)
        return runner

    def _native_attention(self) -> Any:
        """The compiled attention when the plan chose it (and it still loads here), else None: torch's."""
        if self.plan is None or self.plan.attention != "native":
            return None
        return load_native_attention(self.group, self.head_dim)

    @staticmethod
    def supports(model: Any) -> bool:
        """True for the configurations this forward reproduces exactly."""
        config = getattr(model, "config", None)
        rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
        return (
            type(model).__name__ == "LlamaForCausalLM"
            and getattr(config, "hidden_act", None) == "silu"
            and not getattr(config, "attention_bias", False)
            and not getattr(config, "mlp_bias", False)
            and getattr(config, "pretraining_tp", 1) == 1
            and rope.get("rope_type", "default") == "default"
            and next(model.parameters()).device.type == "cpu"
        )

    def _layer(self, layer: Any, dtype: str) -> _Layer:
        qkv, out, gate_up, down = _layer_weights(layer)
        plan = self.plan

        def linear(weight: torch.Tensor) -> Linear:
            return by_rows(weight, *plan.layers) if plan else linear_for(weight, dtype)

        return _Layer(
            attn_norm=layer.input_layernorm.weight.detach().float().clone(),
            qkv=linear(qkv), out=linear(out),
            mlp_norm=layer.post_attention_layernorm.weight.detach().float().clone(),
            gate_up=linear(gate_up), down=linear(down),
        )

    def _rope_table(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sign-folded sin per position, so rotating is `x * cos + swap_halves(x) * sin`."""
        freqs = torch.arange(length, dtype=torch.float32)[:, None] * self.inv_freq[None]
        angles = torch.cat([freqs, freqs], -1)
        sin = angles.sin()
        sin[:, : self.head_dim // 2] *= -1
        return angles.cos(), sin

    def rope(self, end: int) -> tuple[torch.Tensor, torch.Tensor]:
        if end > self._cos.shape[0]:
            self._cos, self._sin = self._rope_table(max(end, 2 * self._cos.shape[0]))
        return self._cos, self._sin

    def session(self, capacity: int) -> Session:
        return _LlamaSession(self, capacity)


class _LlamaSession:
    def __init__(self, runner: LlamaRunner, capacity: int) -> None:
        self.r = runner
        self.native = runner.native_attention
        capacity = padded(capacity) if self.native else max(1, capacity)
        layers, kv, dim = len(runner.layers), runner.kv_heads, runner.head_dim
        self.keys = torch.empty(layers, kv, capacity, dim)
        self.values = torch.empty(layers, kv, capacity, dim)
        if self.native:  # the keys again, tiled for it (native_attention.BLOCK rows, transposed)
            self.key_tiles = torch.empty(layers, kv, capacity // BLOCK, dim, BLOCK)
            self.scores = torch.empty(runner.group * capacity)
            self.attended = torch.empty(1, runner.heads * dim)
            self.normed = torch.empty(1, runner.embed.shape[1])
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.keys.shape[2]

    def rewind(self, length: int) -> None:
        """Keep only the first `length` tokens (the rest is overwritten by the next feed)."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot rewind {self.length} tokens to {length}")
        self.length = length

    def feed(self, ids: list[int]) -> torch.Tensor:
        with torch.inference_mode():
            return self._forward(ids)

    def _forward(self, ids: list[int]) -> torch.Tensor:
        r, n, start = self.r, len(ids), self.length
        end = start + n
        if end > self.keys.shape[2]:
            raise ValueError(f"the KV cache holds {self.keys.shape[2]} tokens; {end} were fed")
        if n == 1 and self.native:
            x = self._native_token(ids[0], start)
        else:
            x = self._layers(ids, start)
        self.length = end
        last = F.rms_norm(x[-1:], (x.shape[-1],), r.norm, r.eps)
        threads = torch.get_num_threads()
        if not r.head_threads or r.head_threads == threads:
            return r.head(last)[0].float()
        torch.set_num_threads(r.head_threads)  # the plan's: one large product can use the CPUs the layers don't
        try:
            return r.head(last)[0].float()
        finally:
            torch.set_num_threads(threads)

    def _native_token(self, token: int, position: int) -> torch.Tensor:
        """One token through the layers with the compiled norms and attention block (rotary, cache
        writes, attention: `native_attention`), addressed once for all layers: a layer is then 4
        products and ~8 other calls, where torch's path makes ~30."""
        r, native = self.r, self.native
        cos, sin = r.rope(position + 1)
        cos, sin = cos[position], sin[position]
        keys, tiles, values = self.keys, self.key_tiles, self.values
        layer_bytes, tile_bytes = keys.stride(0) * keys.element_size(), tiles.stride(0) * tiles.element_size()
        addresses = (keys.data_ptr(), tiles.data_ptr(), values.data_ptr())
        fixed = (self.attended.data_ptr(), self.scores.data_ptr(), r.kv_heads, keys.shape[2], position, r.scale)
        if not 0 <= token < r.embed.shape[0]:
            raise IndexError(f"token id {token} is outside the vocabulary of {r.embed.shape[0]}")
        x, normed, attended = r.embed[token : token + 1], self.normed, self.attended
        for i, layer in enumerate(r.layers):
            qkv = layer.qkv(native.rms_norm(x, layer.attn_norm, normed, r.eps))
            if qkv.dtype != torch.float32 or not qkv.is_contiguous():
                qkv = qkv.float().contiguous()
            native.step(qkv.data_ptr(), cos.data_ptr(), sin.data_ptr(), addresses[0] + i * layer_bytes,
                        addresses[1] + i * tile_bytes, addresses[2] + i * layer_bytes, *fixed)
            x = x + layer.out(attended)
            gate_up = layer.gate_up(native.rms_norm(x, layer.mlp_norm, normed, r.eps))
            x = x + layer.down(F.silu(gate_up[:, : r.intermediate]) * gate_up[:, r.intermediate :])
        return x

    def _layers(self, ids: list[int], start: int) -> torch.Tensor:
        r, n = self.r, len(ids)
        end = start + n
        heads, kv, dim = r.heads, r.kv_heads, r.head_dim
        cos, sin = r.rope(end)
        cos, sin = cos[start:end, None], sin[start:end, None]
        x = r.embed[torch.tensor(ids)]
        if self.native:  # a prompt: its keys go into the tiles too, for the tokens after it
            at = torch.arange(start, end)
            blocks, rows = at // BLOCK, at % BLOCK
        for i, layer in enumerate(r.layers):
            h = F.rms_norm(x, (x.shape[-1],), layer.attn_norm, r.eps)
            qkv = layer.qkv(h).float().view(n, heads + 2 * kv, dim)
            qk = qkv[:, : heads + kv]
            swapped = qk.view(n, heads + kv, 2, dim // 2).flip(2).view(n, heads + kv, dim)
            qk = qk * cos + swapped * sin
            keys, values = self.keys[i, :, :end], self.values[i, :, :end]
            keys[:, start:] = qk[:, heads:].transpose(0, 1)
            values[:, start:] = qkv[:, heads + kv :].transpose(0, 1)
            if self.native:
                self.key_tiles[i][:, blocks, :, rows] = qk[:, heads:]
            if n == 1:  # the query heads sharing a kv head are rows of one small product
                q = qk[0, :heads].view(kv, heads // kv, dim)
                scores = torch.bmm(q, keys.transpose(1, 2)).mul_(r.scale)
                attended = torch.bmm(torch.softmax(scores, -1), values).view(1, heads * dim)
            else:  # 4-D, kv heads repeated: else torch leaves its flash kernel for the slow math one
                q = qk[:, :heads].transpose(0, 1)[None]
                keys, values = (t.repeat_interleave(heads // kv, 0)[None] for t in (keys, values))
                mask = None if start == 0 else _prefix_mask(start, n)
                attended = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, is_causal=start == 0)
                attended = attended[0].transpose(0, 1).reshape(n, heads * dim)
            x = x + layer.out(attended)
            h = F.rms_norm(x, (x.shape[-1],), layer.mlp_norm, r.eps)
            gate_up = layer.gate_up(h)
            x = x + layer.down(F.silu(gate_up[:, : r.intermediate]) * gate_up[:, r.intermediate :])
        return x


def _layer_weights(layer: Any) -> list[torch.Tensor]:
    """A layer's four matrices as the runner multiplies them: q/k/v and gate/up fused."""
    attn, mlp = layer.self_attn, layer.mlp
    return [torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]).detach(), attn.o_proj.weight.detach(),
            torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).detach(), mlp.down_proj.weight.detach()]


_PLANS: dict[tuple, KernelPlan] = {}  # one measurement per shape of model and process


def _measure(model: Any) -> KernelPlan:
    """The kernel plan for `model` on this CPU, timed on its first layer and its head."""
    layers = model.model.layers
    sample, head = _layer_weights(layers[0]), model.lm_head.weight.detach()
    key = (tuple(tuple(w.shape) for w in sample), tuple(head.shape), len(layers))
    if key not in _PLANS:
        _PLANS[key] = plan = measure_plan(sample, head, len(layers))
        logging.getLogger(__name__).info("kernels measured in %.1f s: %s", plan.measured_s, plan.describe())
    return _PLANS[key]


def _release(module: Any) -> None:
    """Drop `module`'s own references to its weights (tensors still used elsewhere live on)."""
    for param in module.parameters():
        param.data = torch.empty(0, dtype=param.dtype)


def _prefix_mask(start: int, n: int) -> torch.Tensor:
    """Boolean mask for n new queries after `start` cached tokens: all of the cache, causal after."""
    return torch.ones(n, start + n, dtype=torch.bool).tril(start)


def build_runner(model: Any, dtype: str = "auto", *, release: bool = False) -> Runner:
    """The fastest runner for `model` under `dtype` (see `DTYPES`); `release`: see `LlamaRunner`."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    if LlamaRunner.supports(model):
        try:
            return LlamaRunner(model, dtype, release=release)
        except (RuntimeError, AttributeError) as exc:  # a torch build without these kernels
            logging.getLogger(__name__).warning("lean decoding unavailable (%s); using the model's forward", exc)
    return HFRunner(model)
