"""Prepared decoding weights and the transformers-free chat tokenizer, with the real bundled model."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from assistant.local.bundled import converted_model_dir, load_bundled
from assistant.local.chat_tokenizer import ChatTokenizer
from assistant.local.decoding import LlamaRunner, build_runner
from assistant.local.generation import decode_tokens
from assistant.local.local_chat import LocalChatModel
from assistant.local.prepared import PreparedCache, prepared_path, read_prepared, write_prepared

pytestmark = pytest.mark.model

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}],
    [
        {"role": "system", "content": "You help with code.\n\n<memory kind=turn>\nUser: x\n</memory>"},
        {"role": "user", "content": "Write a function"},
        {"role": "assistant", "content": "```python\ndef f():\n    return 1\n```"},
        {"role": "user", "content": "Now in Größe 🌍 and 日本語, with   spaces\tand tabs"},
    ],
]
QUESTION = [HumanMessage("What is the capital of France? Answer in one short sentence.")]


@pytest.fixture(scope="module")
def folder():
    return converted_model_dir()


@pytest.fixture(autouse=True)
def plans_measured_on_a_free_cpu(monkeypatch):
    """Plans measured here are recorded as measured on a free CPU: else a plan timed while the
    suite's machine was busy is measured again by a later load that finds it free, which loads the
    model in full (what `_must_not_load` and the new process's `refuse` forbid). The test of that
    second look sets a busy plan itself."""
    from assistant.local import tuning

    monkeypatch.setattr(tuning, "others_running", lambda: 0)


@pytest.fixture
def model_copy(folder, tmp_path):
    """The converted model's small files beside a link to its weights: a cache dir of our own."""
    copy = tmp_path / "model"
    copy.mkdir()
    for item in folder.iterdir():
        if item.name.startswith("prepared-"):
            continue
        if item.name == "model.safetensors":
            (copy / item.name).symlink_to(item)
        else:
            shutil.copy(item, copy / item.name)
    return copy


def test_chat_tokenizer_matches_transformers(folder):
    from transformers import AutoTokenizer

    ours, theirs = ChatTokenizer(folder), AutoTokenizer.from_pretrained(folder)
    for chat in CONVERSATIONS:
        for generation in (True, False):
            expected = theirs.apply_chat_template(chat, add_generation_prompt=generation, tokenize=True)
            expected = list(expected["input_ids"] if hasattr(expected, "keys") else expected)
            assert ours.apply_chat_template(chat, add_generation_prompt=generation) == expected
            assert ours.decode(expected, skip_special_tokens=True) == theirs.decode(expected, skip_special_tokens=True)
    assert ours.eos_token_id == theirs.eos_token_id
    assert ours("Hello there")["input_ids"] == theirs("Hello there")["input_ids"]


def test_prepared_weights_decode_exactly_as_the_runner_they_came_from(bundled_runner, tmp_path):
    runner, tokenizer = bundled_runner
    path = tmp_path / "prepared.safetensors"
    write_prepared(runner, frozenset({2}), path)
    again, stop_ids = read_prepared(path)
    assert isinstance(again, LlamaRunner) and stop_ids == frozenset({2})
    assert again.plan is not None and again.plan == runner.plan  # the measured kernel choice is kept
    prompt = tokenizer.apply_chat_template(CONVERSATIONS[2], add_generation_prompt=True)
    with torch.inference_mode():
        assert torch.equal(runner.session(len(prompt)).feed(prompt), again.session(len(prompt)).feed(prompt))
    assert list(decode_tokens(again, prompt, max_new_tokens=12)) == list(decode_tokens(runner, prompt, max_new_tokens=12))
    assert not list(tmp_path.glob(".*tmp*"))  # written under a temporary name, then renamed


def test_the_head_runs_on_the_plans_head_threads_and_the_layers_keep_theirs(bundled_runner):
    runner, tokenizer = bundled_runner
    head, seen = runner.head, []

    def recording_head(x):
        seen.append(torch.get_num_threads())
        return head(x)

    before, kept = torch.get_num_threads(), runner.head_threads
    runner.head, runner.head_threads = recording_head, 2
    try:
        torch.set_num_threads(1)
        with torch.inference_mode():
            runner.session(4).feed([1, 2])
        assert seen == [2] and torch.get_num_threads() == 1
    finally:
        runner.head, runner.head_threads = head, kept
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def bundled_runner(folder):
    model, _ = load_bundled()
    return build_runner(model, "auto"), ChatTokenizer(folder)


def test_a_second_model_loads_the_prepared_weights_and_answers_the_same(model_copy):
    cache = PreparedCache(lambda progress: model_copy, label="bundled model")
    first = LocalChatModel(loader=lambda progress=None: load_bundled(), prepared=cache, max_new_tokens=16)
    model, _ = first.ensure_loaded()
    assert model is not None and prepared_path(model_copy, "auto").is_file()
    stages = []
    second = LocalChatModel(loader=_must_not_load, prepared=cache, max_new_tokens=16)
    model, tokenizer = second.ensure_loaded(progress=lambda stage, fraction: stages.append((stage, fraction)))
    assert model is None and isinstance(tokenizer, ChatTokenizer)
    assert stages == [("loading bundled model", None), ("loaded bundled model", 1.0)]
    for messages in (QUESTION, [SystemMessage("Answer in French."), HumanMessage("Hello!"), AIMessage("Bonjour !"),
                                HumanMessage("How are you?")]):
        assert second.invoke(messages).content == first.invoke(messages).content


def test_saving_removes_the_same_dtypes_outdated_files_and_keeps_the_others(model_copy):
    from assistant.local.cpu import capability_key

    outdated = model_copy / f"prepared-auto-torch1.0.0+cpu-{capability_key()}-v1.safetensors"
    kept = [model_copy / f"prepared-int8-torch1.0.0+cpu-{capability_key()}-v1.safetensors",  # another dtype
            model_copy / "prepared-auto-torch1.0.0+cpu-OTHERCPU-v1.safetensors"]  # another CPU capability
    for path in (outdated, *kept):
        path.write_bytes(b"old")
    cache = PreparedCache(lambda progress: model_copy)
    LocalChatModel(loader=lambda progress=None: load_bundled(), prepared=cache).ensure_loaded()
    assert prepared_path(model_copy, "auto").is_file()
    assert not outdated.exists() and all(path.exists() for path in kept)


def test_keeping_the_fp32_weights_neither_reads_nor_writes_prepared_weights(model_copy):
    cache = PreparedCache(lambda progress: model_copy)
    kept = LocalChatModel(loader=lambda progress=None: load_bundled(), prepared=cache, keep_weights=True)
    model, _ = kept.ensure_loaded()
    assert model is not None and not list(model_copy.glob("prepared-*"))


def _header_bytes(path) -> int:
    """A safetensors file: an 8-byte little-endian header length, the JSON header, the tensors."""
    with open(path, "rb") as file:
        return int.from_bytes(file.read(8), "little")


def _tensor_bytes(path) -> int:
    import json

    with open(path, "rb") as file:
        header = json.loads(file.read(8 + _header_bytes(path))[8:])
    return max(entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__")


def test_a_damaged_prepared_file_is_ignored_and_rewritten(model_copy, caplog):
    cache = PreparedCache(lambda progress: model_copy)
    LocalChatModel(loader=lambda progress=None: load_bundled(), prepared=cache).ensure_loaded()
    path = prepared_path(model_copy, "auto")
    size, body = path.stat().st_size, _tensor_bytes(path)
    with open(path, "r+b") as file:
        file.truncate(size // 3)
    chat = LocalChatModel(loader=lambda progress=None: load_bundled(), prepared=cache, max_new_tokens=12)
    model, _ = chat.ensure_loaded()
    assert model is not None  # loaded in full…
    assert "ignoring the prepared weights" in caplog.text
    assert _tensor_bytes(path) == body  # …and the file written whole again (the header's timings are new)
    assert path.stat().st_size == 8 + _header_bytes(path) + body
    assert "Paris" in chat.invoke(QUESTION).content


def _must_not_load(progress=None):
    raise AssertionError("the full loader ran although prepared weights exist")


def test_a_new_process_answers_without_importing_transformers(model_copy, tmp_path):
    cache = PreparedCache(lambda progress: model_copy)
    LocalChatModel(loader=lambda progress=None: load_bundled(), prepared=cache).ensure_loaded()
    script = f"""
import sys
from pathlib import Path
from langchain_core.messages import HumanMessage
from assistant.local.local_chat import LocalChatModel
from assistant.local.prepared import PreparedCache
def refuse(progress=None):
    raise SystemExit("full load")
chat = LocalChatModel(loader=refuse, prepared=PreparedCache(lambda p: Path({str(model_copy)!r})), max_new_tokens=12)
print(chat.invoke([HumanMessage("What is the capital of France? Answer in one short sentence.")]).content)
print("transformers" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.returncode == 0, out.stderr[-2000:]
    reply, imported = out.stdout.strip().splitlines()[-2:]
    assert "Paris" in reply and imported == "False"


def test_int8_weights_are_prepared_too_and_answer_the_same(model_copy):
    cache = PreparedCache(lambda progress: model_copy)
    first = LocalChatModel(loader=lambda progress=None: load_bundled(), prepared=cache, dtype="int8", max_new_tokens=8)
    model, _ = first.ensure_loaded()
    assert model is not None and prepared_path(model_copy, "int8").is_file()
    second = LocalChatModel(loader=_must_not_load, prepared=cache, dtype="int8", max_new_tokens=8)
    assert second.invoke(QUESTION).content == first.invoke(QUESTION).content


def test_a_plan_measured_on_a_busy_cpu_is_measured_again_once_when_it_is_free(model_copy, monkeypatch):
    """Kernels timed while other work held every CPU say little about the quiet machine (at load
    15 they chose one thread and bf16 here, 12 tokens/s): the first start on a free CPU measures
    again and keeps that plan; later starts load it, busy or not."""
    import dataclasses

    from assistant.local import cpu
    from assistant.local.prepared import plan_in

    cache = PreparedCache(lambda progress: model_copy)
    LocalChatModel(loader=lambda progress=None: load_bundled(), prepared=cache).ensure_loaded()
    path = prepared_path(model_copy, "auto")
    runner, stop_ids = read_prepared(path)
    runner.plan = dataclasses.replace(runner.plan, others_running=8, second_look=False)
    write_prepared(runner, stop_ids, path)

    monkeypatch.setattr(cpu, "others_running", lambda: 0)
    again = LocalChatModel(loader=lambda progress=None: load_bundled(), prepared=cache)
    model, _ = again.ensure_loaded()
    assert model is not None  # loaded in full, so the kernels were measured again
    assert plan_in(path).second_look

    runner, stop_ids = read_prepared(path)  # even if that second look was taken under load too…
    runner.plan = dataclasses.replace(runner.plan, others_running=8)
    write_prepared(runner, stop_ids, path)
    model, _ = LocalChatModel(loader=_must_not_load, prepared=cache).ensure_loaded()
    assert model is None  # …it is not measured a third time
