"""The decode loop behind `LocalChatModel`: exactness against `generate`, text assembly, stop strings,
cancelling, errors and usage.

Scripted-model tests run a fake forward (any non-Llama model goes through `HFRunner`) with the real
bundled tokenizer, so they pin behaviour token by token; the rest use the real bundled model with
short generations. No timing assertions: bench/bench_generation.py measures speed.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from langchain_core.messages import HumanMessage

from assistant.local.bundled import converted_model_dir, load_bundled
from assistant.local.decoding import HFRunner, LlamaRunner, build_runner
from assistant.local.generation import Sampling, TextAssembler, choose_token, decode_tokens
from assistant.errors import ModelError
from assistant.local.local_chat import LocalChatModel

PROMPTS = ["What is the capital of France?", "Write a Python function that adds two numbers."]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(converted_model_dir())


@pytest.fixture(scope="module")
def bundled():
    return load_bundled()


def _prompt(tokenizer, text):
    ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)
    return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)


class Scripted:
    """A fake causal LM that emits the given token ids in order, then raises or repeats the last."""

    def __init__(self, script, vocab, fail_after=None):
        self.script, self.vocab, self.fail_after = list(script), vocab, fail_after
        self.calls = 0

    def __call__(self, input_ids, **kwargs):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise getattr(self, "failure", RuntimeError)("scripted failure")
        logits = torch.zeros(1, 1, self.vocab)
        logits[0, -1, self.script[min(self.calls, len(self.script) - 1)]] = 1.0
        self.calls += 1
        return SimpleNamespace(logits=logits)


def _scripted_chat(tokenizer, text, *, eos=False, fail_after=None, **kwargs):
    ids = tokenizer(text)["input_ids"] + ([tokenizer.eos_token_id] if eos else [])
    model = Scripted(ids, len(tokenizer), fail_after)
    return LocalChatModel(loader=lambda progress=None: (model, tokenizer), **kwargs), model


# --- choosing tokens ---------------------------------------------------------------------------------


def test_choose_token_greedy_sampling_and_penalty():
    logits = torch.tensor([0.0, 3.0, 2.9, -1.0])
    assert choose_token(logits, Sampling(), []) == 1
    assert choose_token(logits, Sampling(temperature=1.0, top_k=1), []) == 1
    assert choose_token(logits, Sampling(temperature=1.0, top_p=0.01), []) == 1  # keeps the top token only
    assert choose_token(logits, Sampling(repetition_penalty=1.2), [1]) == 2  # 3.0 / 1.2 < 2.9
    generator = torch.Generator().manual_seed(0)
    picks = {choose_token(logits, Sampling(temperature=1.0, top_k=2), [], generator) for _ in range(200)}
    assert picks == {1, 2}


# --- text assembly -----------------------------------------------------------------------------------


def test_text_assembler_never_splits_a_character(tokenizer):
    text = "naïve café — 日本語の文 🙂👍🏽 done"
    ids = tokenizer(text)["input_ids"]
    assert len(ids) > len(text.split())  # several characters take more than one token
    assembler = TextAssembler(tokenizer)
    pieces = [assembler.push(i) for i in ids] + [assembler.flush()]
    assert "".join(pieces) == tokenizer.decode(ids, skip_special_tokens=True) == text
    assert not any("\ufffd" in piece for piece in pieces)


def test_text_assembler_skips_special_tokens(tokenizer):
    assembler = TextAssembler(tokenizer)
    ids = [*tokenizer("Hi there")["input_ids"], tokenizer.eos_token_id]
    assert "".join(assembler.push(i) for i in ids) + assembler.flush() == "Hi there"


# --- LocalChatModel on a scripted model -------------------------------------------------------------


def test_stream_stops_at_eos_and_reports_usage(tokenizer):
    chat, model = _scripted_chat(tokenizer, "Paris is the capital.", eos=True)
    chunks = list(chat.stream([HumanMessage("capital of France?")]))
    assert "".join(c.content for c in chunks) == "Paris is the capital."
    last = chunks[-1]
    assert last.response_metadata["finish_reason"] == "stop"
    assert last.usage_metadata["output_tokens"] == len(model.script)  # the EOS counts, as with generate
    assert last.usage_metadata["input_tokens"] > 3


def test_max_new_tokens_cuts_with_finish_reason_length(tokenizer):
    chat, model = _scripted_chat(tokenizer, "one two three four five six", max_new_tokens=3)
    reply = chat.invoke([HumanMessage("count")])
    assert reply.content == "one two three"
    assert reply.usage_metadata["output_tokens"] == 3 and reply.response_metadata["finish_reason"] == "length"
    assert model.calls == 3  # the prompt, then two tokens: no forward pass for a token never used


def test_stop_string_split_across_tokens(tokenizer):
    chat, _ = _scripted_chat(tokenizer, "Answer: yes\nUser: and then", eos=True)
    chunks = list(chat.stream([HumanMessage("q")], stop=["\nUser:"]))
    assert "".join(c.content for c in chunks) == "Answer: yes"
    assert chunks[-1].response_metadata["finish_reason"] == "stop"


def test_closing_the_stream_stops_decoding(tokenizer):
    chat, model = _scripted_chat(tokenizer, " word" * 50, max_new_tokens=50)
    stream = chat.stream([HumanMessage("go")])
    next(stream), next(stream)
    stream.close()
    assert model.calls == 2  # the prompt and one token: nothing was decoded ahead of the consumer


def test_errors_surface_as_model_errors_after_the_text_so_far(tokenizer):
    chat, _ = _scripted_chat(tokenizer, "Hello there friend", fail_after=2)
    pieces = []
    with pytest.raises(ModelError, match="failed while generating: RuntimeError: scripted failure"):
        for chunk in chat.stream([HumanMessage("hi")]):
            pieces.append(chunk.content)
    assert "".join(pieces) == "Hello there"


def test_a_bug_below_the_model_is_not_reported_as_a_model_failure(tokenizer):
    chat, model = _scripted_chat(tokenizer, "Hello there friend", fail_after=1)
    model.failure = TypeError  # a programming error, not the model failing
    with pytest.raises(TypeError, match="scripted failure"):
        list(chat.stream([HumanMessage("hi")]))


def test_unknown_dtype_is_a_model_error(tokenizer):
    chat, _ = _scripted_chat(tokenizer, "x", dtype="fp8")
    with pytest.raises(ModelError, match="unknown dtype 'fp8'"):
        chat.invoke([HumanMessage("hi")])


def test_dtype_defaults_from_the_environment(monkeypatch):
    monkeypatch.setenv("ASSISTANT_DTYPE", "float32")
    assert LocalChatModel(loader=lambda progress=None: (None, None)).dtype == "float32"
    monkeypatch.delenv("ASSISTANT_DTYPE")
    assert LocalChatModel(loader=lambda progress=None: (None, None)).dtype == "auto"


# --- the real bundled model --------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize("runner_kind", ["llama-float32", "hf"])
def test_greedy_loop_equals_generate(bundled, runner_kind):
    model, tokenizer = bundled
    runner = HFRunner(model) if runner_kind == "hf" else LlamaRunner(model, "float32")
    for text in PROMPTS:
        prompt = _prompt(tokenizer, text)
        with torch.inference_mode():
            out = model.generate(torch.tensor([prompt]), max_new_tokens=20, do_sample=False, pad_token_id=2)
        expected = out[0, len(prompt) :].tolist()
        assert list(decode_tokens(runner, prompt, max_new_tokens=20, stop_ids=frozenset({2}))) == expected


@pytest.mark.model
def test_default_precision_stays_close_to_the_bundled_weights(bundled):
    """`auto` picks by speed among kernels that keep the weights exactly (int4, int8split) or nearly
    (int8: per-row weights and per-call activations, ~1% here; bf16)."""
    model, tokenizer = bundled
    runner = build_runner(model, "auto")
    assert isinstance(runner, LlamaRunner)
    layer = model.model.layers[0].mlp.gate_proj
    x = torch.randn(2, layer.in_features)
    exact = x.bfloat16().float() @ layer.weight.T
    for rows in (1, 2):  # a token's kernel and a prompt's may differ
        packed = runner.layers[0].gate_up(x[:rows])[:, : layer.out_features].float()
        assert (packed - exact[:rows]).norm() / exact[:rows].norm() < 0.03
    head = runner.head(x[:, : model.config.hidden_size]).float()
    exact_head = x[:, : model.config.hidden_size].bfloat16().float() @ model.lm_head.weight.T
    assert (head - exact_head).norm() / exact_head.norm() < 0.03
    prompt = _prompt(tokenizer, PROMPTS[0])
    reply = tokenizer.decode(list(decode_tokens(runner, prompt, max_new_tokens=12, stop_ids=frozenset({2}))))
    assert "Paris" in reply


@pytest.mark.model
def test_sampling_on_the_real_model(bundled):
    chat = LocalChatModel(loader=lambda progress=None: bundled, max_new_tokens=12, temperature=0.8,
                          keep_weights=True)  # the module's shared model stays usable
    reply = chat.invoke([HumanMessage("Say something about cats.")])
    assert reply.content.strip() and reply.usage_metadata["output_tokens"] <= 12


def test_dtype_setting_is_validated_and_read_from_the_environment(tmp_path):
    from assistant.local.decoding import DTYPES
    from assistant.errors import ConfigError
    from assistant.settings import load_settings

    none = tmp_path / "none.toml"
    assert load_settings(config_path=none, environ={}).dtype == "auto"
    assert load_settings(config_path=none, environ={"ASSISTANT_DTYPE": "bfloat16"}).dtype == "bfloat16"
    with pytest.raises(ConfigError, match="dtype must be one of"):
        load_settings(config_path=none, environ={"ASSISTANT_DTYPE": "fp8"})
    for name in DTYPES:
        assert load_settings(config_path=none, environ={}, dtype=name).dtype == name


@pytest.mark.model
def test_feeding_a_prompt_in_parts_matches_feeding_it_whole(bundled):
    model, tokenizer = bundled
    runner = LlamaRunner(model, "float32")
    prompt = _prompt(tokenizer, PROMPTS[1])
    whole = runner.session(len(prompt)).feed(prompt)
    parts = runner.session(len(prompt))
    parts.feed(prompt[:7])
    parts.feed(prompt[7:9])
    torch.testing.assert_close(parts.feed(prompt[9:]), whole, rtol=1e-4, atol=1e-4)


@pytest.mark.model
def test_the_prompt_is_read_on_more_threads_than_each_token(bundled):
    model, tokenizer = bundled
    inner = LlamaRunner(model, "float32")
    fed = []  # (tokens fed, torch threads at that moment)

    class Watched:
        def __init__(self, capacity):
            self.session = inner.session(capacity)

        def feed(self, ids):
            fed.append((len(ids), torch.get_num_threads()))
            return self.session.feed(ids)

    watched = SimpleNamespace(session=Watched)
    prompt = _prompt(tokenizer, PROMPTS[0])
    before = torch.get_num_threads()
    try:
        split = list(decode_tokens(watched, prompt, max_new_tokens=8, threads=(2, 1)))
        assert fed[0] == (len(prompt), 2) and [t for _, t in fed[1:]] == [1] * (len(fed) - 1)
        assert split == list(decode_tokens(inner, prompt, max_new_tokens=8, threads=(1, 1)))
    finally:
        torch.set_num_threads(before)


@pytest.mark.model
def test_packing_releases_the_fp32_weights_unless_asked_to_keep_them():
    def resident(model):
        return sum(p.numel() for p in model.parameters())

    lean = LocalChatModel(loader=lambda progress=None: load_bundled(), max_new_tokens=8)
    model, _ = lean.ensure_loaded()
    assert resident(model) < 1_000_000  # only the runner's own copy remains (~135M parameters before)
    assert lean.invoke([HumanMessage(PROMPTS[0])]).content.strip()  # and it still answers
    kept = LocalChatModel(loader=lambda progress=None: load_bundled(), max_new_tokens=8, keep_weights=True)
    model, _ = kept.ensure_loaded()
    assert resident(model) > 100_000_000
    assert kept.invoke([HumanMessage(PROMPTS[0])]).content == lean.invoke([HumanMessage(PROMPTS[0])]).content


def test_the_configured_dtype_reaches_the_local_model(tmp_path):
    from assistant import Assistant
    from assistant.settings import load_settings

    settings = load_settings(config_path=tmp_path / "none.toml", environ={}, dtype="float32",
                             data_dir=tmp_path / "data")
    assert Assistant(settings=settings).model.dtype == "float32"


def test_a_begun_reply_is_continued_and_alone_it_is_plain_text(tokenizer):
    from langchain_core.messages import AIMessage

    stub = 'def double(x):\n    """Twice x."""\n   '
    assert LocalChatModel._encode(tokenizer, [AIMessage(stub)]) == tokenizer(stub)["input_ids"]   # no chat template
    asked = [HumanMessage("Complete it")]
    begun = LocalChatModel._encode(tokenizer, [*asked, AIMessage("Sure:")])
    fresh = LocalChatModel._encode(tokenizer, asked)
    assert begun[: len(fresh)] == fresh and tokenizer.decode(begun[len(fresh):]) == "Sure:"


class ScriptedPerPrompt(Scripted):
    """Scripted, starting its script again at each prompt: n separate answers to one prompt."""

    def __call__(self, input_ids, **kwargs):
        if input_ids.shape[-1] > 1:
            self.calls = 0
        return super().__call__(input_ids, **kwargs)


def test_a_model_the_runner_cannot_batch_samples_one_reply_after_another(tokenizer):
    ids = tokenizer("def add(a, b): return a + b")["input_ids"] + [tokenizer.eos_token_id]
    model = ScriptedPerPrompt(ids, len(tokenizer))
    chat = LocalChatModel(loader=lambda progress=None: (model, tokenizer))
    texts, tokens = chat.sample_replies([HumanMessage("complete add")], 3, max_new_tokens=40, temperature=0.0)
    assert texts == ["def add(a, b): return a + b"] * 3
    assert tokens == 3 * len(ids)  # each reply's EOS counts, as in invoke's usage
