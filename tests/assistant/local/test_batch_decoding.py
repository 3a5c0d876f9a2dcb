"""Several samples of one prompt decoded together, with the real bundled model."""

from __future__ import annotations

import pytest
import torch
from langchain_core.messages import AIMessage

from assistant.local.batch_decoding import BatchSession, batch_kernels, runner_kernels, weight_of
from assistant.local.bundled import converted_model_dir, load_bundled
from assistant.local.chat_tokenizer import ChatTokenizer
from assistant.local.decoding import LlamaRunner
from assistant.models import build_chat_model

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def runner_and_tokenizer():
    model, _ = load_bundled()
    return LlamaRunner(model, "float32"), ChatTokenizer(converted_model_dir())


def test_each_row_of_a_batch_step_is_its_own_sequence(runner_and_tokenizer):
    # three continuations of one prompt, fed together, give the logits each gets alone; then the
    # first is dropped and the other two still match (the rows of their kv heads moved with them)
    runner, tokenizer = runner_and_tokenizer
    prompt = tokenizer("def add(a, b):\n    return")["input_ids"]
    single = runner.session(len(prompt) + 4)
    single.feed(prompt)
    n = len(prompt)
    batch = BatchSession(runner, 3, n + 4, single.keys[:, :, :n], single.values[:, :, :n], kernels=runner_kernels(runner))
    firsts, seconds = [264, 1008, 3142], [30, 1035, 2405]

    def alone(tokens):
        session = runner.session(n + 4)
        session.feed(prompt)
        return [session.feed([t]) for t in tokens][-1]

    together = batch.feed(firsts)
    for row, token in enumerate(firsts):
        assert torch.allclose(together[row], alone([token]), atol=1e-3)
    batch.keep([1, 2])
    together = batch.feed(seconds[1:])
    for row, b in enumerate([1, 2]):
        assert torch.allclose(together[row], alone([firsts[b], seconds[b]]), atol=1e-3)
    assert not torch.allclose(together[0], together[1], atol=1e-3)


def test_a_kernel_gives_back_the_weight_it_was_built_from(runner_and_tokenizer):
    runner, _ = runner_and_tokenizer
    layer = runner.layers[0]
    weight = weight_of(layer.gate_up, runner.embed.shape[1])
    x = torch.randn(2, runner.embed.shape[1])
    assert torch.allclose(x @ weight.t(), layer.gate_up(x), atol=1e-4)
    kernels = batch_kernels(runner)   # measured on this CPU: int8 copies or the runner's own, whole
    assert len(kernels) == len(runner.layers) + 1 and batch_kernels(runner) is kernels


def test_sampled_replies_come_back_cut_at_their_stops():
    model = build_chat_model("bundled")
    begun = [AIMessage('def greet(name):\n    """Say hello to someone by name."""\n   ')]
    greedy, used = model.sample_replies(begun, 3, max_new_tokens=48, temperature=0.0, stop=["\ndef ", "\n\n"])
    assert len(greedy) == 3 and len(set(greedy)) == 1 and used >= 3
    assert all("\n\n" not in text and "\ndef " not in text for text in greedy)
    torch.manual_seed(0)
    samples, used = model.sample_replies(begun, 6, max_new_tokens=48, temperature=1.0, stop=["\n\n"])
    assert len(samples) == 6 and len(set(samples)) > 1 and all("\n\n" not in text for text in samples)
    assert used <= 6 * 48
