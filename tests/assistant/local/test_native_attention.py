"""The compiled attention (attention.c through `native_attention`): the same numbers as torch's,
built once per machine, chosen by measurement, and torch's wherever it cannot be built."""

from __future__ import annotations

import json
import logging
import math

import pytest
import torch

from assistant.local import native_attention
from assistant.local.decoding import LlamaRunner
from assistant.local.native_attention import BLOCK, load
from assistant.local.tuning import KernelPlan, with_measured_attention


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty cache dir and no compiled attention loaded yet in this process."""
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path))
    load.cache_clear()
    yield tmp_path
    load.cache_clear()


@pytest.fixture(scope="module")
def native():
    compiled = load(3, 64)
    if compiled is None:
        pytest.skip("no C compiler here: the compiled attention cannot be built (torch's is used)")
    return compiled


def _torch_attention(q, keys, values, group, scale):
    kv, dim = keys.shape[0], keys.shape[2]
    scores = torch.bmm(q.view(kv, group, dim), keys.transpose(1, 2)) * scale
    return torch.bmm(torch.softmax(scores, -1), values).view(kv * group, dim)


@pytest.mark.parametrize("length", [1, 5, 31, 32, 33, 700])
def test_a_step_writes_the_cache_and_gives_torchs_attention_for_any_length(native, length):
    """`step` without rotation (cos 1, sin 0): the token at `length - 1` goes into the cache's rows,
    tiles and values, and its attention over all `length` rows is torch's."""
    torch.manual_seed(length)
    kv, group, dim = 3, 3, 64
    capacity, position = native_attention.padded(length + 3), length - 1
    keys = torch.randn(kv, capacity, dim) * 2
    values = torch.randn(kv, capacity, dim)
    tiles = keys.view(kv, capacity // BLOCK, BLOCK, dim).transpose(2, 3).contiguous()
    expected_keys, expected_values = keys.clone(), values.clone()
    keys[:, position], values[:, position] = 0, 0  # the step writes them
    tiles.view(kv, capacity // BLOCK, dim, BLOCK)[:, position // BLOCK, :, position % BLOCK] = 0
    q = torch.randn(kv * group, dim) * 2
    qkv = torch.cat([q, expected_keys[:, position], expected_values[:, position]]).contiguous()
    cos, sin = torch.ones(dim), torch.zeros(dim)
    out, scores = torch.empty(kv * group, dim), torch.empty(group * capacity)
    native.step(qkv.data_ptr(), cos.data_ptr(), sin.data_ptr(), keys.data_ptr(), tiles.data_ptr(), values.data_ptr(),
                out.data_ptr(), scores.data_ptr(), kv, capacity, position, 1 / math.sqrt(dim))
    assert torch.equal(keys, expected_keys) and torch.equal(values, expected_values)
    assert torch.equal(tiles, expected_keys.view(kv, capacity // BLOCK, BLOCK, dim).transpose(2, 3))
    expected = _torch_attention(q, expected_keys[:, :length], expected_values[:, :length], group, 1 / math.sqrt(dim))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.model
def test_a_session_on_it_decodes_as_torchs_does(native):
    """The whole forward pass, fp32 kernels so only attention differs: a prompt that ends mid-tile,
    then tokens across the tile's end; the tiles written by the prompt and by each token agree."""
    from assistant.local.bundled import load_bundled

    model, _ = load_bundled()
    runner = LlamaRunner(model, "float32")
    prompt = [(i * 7919) % 40000 + 100 for i in range(2 * BLOCK - 3)]
    logits = {}
    for name, attention in (("torch", None), ("native", native)):
        runner.native_attention = attention
        session = runner.session(len(prompt) + 8)
        steps = [session.feed(prompt)] + [session.feed([token]) for token in (5, 77, 901, 33, 2000, 17)]
        logits[name] = torch.stack(steps)
    assert session.keys.shape[2] % BLOCK == 0  # the native session's capacity is whole tiles
    torch.testing.assert_close(logits["native"], logits["torch"], rtol=1e-4, atol=1e-3)


def test_it_is_built_once_and_reused(fresh):
    first = load(3, 64)
    if first is None:
        pytest.skip("no C compiler here")
    built = {p: p.stat().st_mtime_ns for p in (fresh / "kernels").iterdir()}
    assert [p.name for p in built] == [first.library.name] and first.library.name.startswith("attention-g3-d64-")
    load.cache_clear()
    again = load(3, 64)
    assert again.library == first.library
    assert {p: p.stat().st_mtime_ns for p in (fresh / "kernels").iterdir()} == built  # not compiled again


def test_without_a_compiler_torchs_attention_is_used(fresh, monkeypatch, tmp_path, caplog):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # neither cc, gcc, clang nor sysconfig's CC is found
    caplog.set_level(logging.INFO, logger="assistant.local.native_attention")
    assert load(3, 64) is None
    assert "no C compiler found" in caplog.text
    plan = KernelPlan(layers=("fp32", "fp32"), head="fp32", decode_threads=1, prefill_threads=1)
    assert with_measured_attention(plan, _Runner()).attention == "torch"


def test_a_failing_build_leaves_nothing_behind(fresh, monkeypatch, caplog):
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    assert load(3, 64) is None
    assert "compiled attention unavailable (false failed" in caplog.text
    assert not list((fresh / "kernels").iterdir())


def test_a_shape_it_cannot_vectorize_is_left_to_torch(fresh):
    assert load(3, 40) is None  # a head size that is not whole vectors of 16 floats


def test_the_plan_records_the_attention_measured_and_older_plans_mean_torch(native):
    """Timed on a real runner whose attention is one or the other (fp32 weights stand in for the
    bundled model's shape without loading it): the choice follows the timings it records."""
    plan = KernelPlan(layers=("fp32", "fp32"), head="fp32", decode_threads=1, prefill_threads=1)
    chosen = with_measured_attention(plan, _TinyRunner(), budget_s=0.0)
    timed = chosen.timings_ms["attend native"], chosen.timings_ms["attend torch"]
    assert chosen.attention == ("native" if timed[0] < timed[1] else "torch")
    assert f"{chosen.attention} attention" in chosen.describe()
    assert KernelPlan.from_json(json.loads(json.dumps(chosen.to_json()))) == chosen
    older = {k: v for k, v in plan.to_json().items() if k != "attention"}  # a plan saved before attention was timed
    assert KernelPlan.from_json(older).attention == "torch"


class _Runner:
    group, head_dim, native_attention = 3, 64, None


class _TinyRunner(LlamaRunner):
    """A two-layer Llama runner with the bundled model's attention shape and random fp32 weights."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        from assistant.local.decoding import _Layer
        from assistant.local.kernels import linear_for

        hidden, heads, kv, dim, inter = 576, 9, 3, 64, 256
        self._shape(heads=heads, kv_heads=kv, head_dim=dim, eps=1e-5, intermediate=inter, dtype="float32")
        self.layers = [
            _Layer(attn_norm=torch.ones(hidden), mlp_norm=torch.ones(hidden),
                   qkv=linear_for(torch.randn((heads + 2 * kv) * dim, hidden) / 30, "float32"),
                   out=linear_for(torch.randn(hidden, heads * dim) / 30, "float32"),
                   gate_up=linear_for(torch.randn(2 * inter, hidden) / 30, "float32"),
                   down=linear_for(torch.randn(hidden, inter) / 30, "float32"))
            for _ in range(2)
        ]
        self.norm, self.embed = torch.ones(hidden), torch.randn(1000, hidden)
        self.head = linear_for(torch.randn(1000, hidden) / 30, "float32")
        self.inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        self.plan, self.head_threads, self.native_attention = None, None, None
        self._cos, self._sin = self._rope_table(256)
