"""Reusing the last prompt's KV cache, with the real bundled model's runner."""

from __future__ import annotations

import pytest
import torch

from assistant.local.bundled import load_bundled
from assistant.local.chat_tokenizer import ChatTokenizer
from assistant.local.bundled import converted_model_dir
from assistant.local.decoding import LlamaRunner
from assistant.local.generation import decode_tokens
from assistant.local.prefix_cache import PrefixCache, common_prefix

pytestmark = pytest.mark.model

SYSTEM = "You are Throughline, a helpful assistant. Answer in a few sentences. " * 3


@pytest.fixture(scope="module")
def runner_and_tokenizer():
    model, _ = load_bundled()
    return LlamaRunner(model, "float32"), ChatTokenizer(converted_model_dir())


def _prompt(tokenizer, request):
    return tokenizer.apply_chat_template(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": request}], add_generation_prompt=True
    )


def test_common_prefix():
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0


def test_a_prompt_that_starts_like_the_last_is_read_from_where_it_differs(runner_and_tokenizer):
    runner, tokenizer = runner_and_tokenizer
    cache = PrefixCache(runner, min_capacity=64)
    first, second = _prompt(tokenizer, "Who wrote Hamlet?"), _prompt(tokenizer, "Name a colour.")
    shared = common_prefix(first, second)
    assert shared > 40
    fed = []

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def session(self, capacity):
            session = self.inner.session(capacity)
            original = session.feed
            session.feed = lambda ids: (fed.append(len(ids)), original(ids))[1]
            return session

    cache._runner = Counting(runner)
    reference = list(decode_tokens(runner, second, max_new_tokens=10))
    list(decode_tokens(runner, first, max_new_tokens=10, cache=cache))
    assert fed[0] == len(first) and cache.reused == 0
    fed.clear()
    assert list(decode_tokens(runner, second, max_new_tokens=10, cache=cache)) == reference
    assert cache.reused == shared and fed[0] == len(second) - shared  # only the differing tail was read
    fed.clear()
    assert list(decode_tokens(runner, second, max_new_tokens=10, cache=cache)) == reference
    assert fed[0] == 1  # the same prompt again: only its last token, for the logits


def test_the_kept_cache_gives_the_logits_of_a_fresh_read(runner_and_tokenizer):
    runner, tokenizer = runner_and_tokenizer
    cache = PrefixCache(runner, min_capacity=64)
    first, second = _prompt(tokenizer, "Write a haiku about rain"), _prompt(tokenizer, "Write a haiku about snow")
    with cache.session(first, len(first) + 4) as (session, done):
        session.feed(first[done:])
    with cache.session(second, len(second) + 4) as (session, done):
        assert done == common_prefix(first, second)
        kept = session.feed(second[done:])
    fresh = runner.session(len(second)).feed(second)
    torch.testing.assert_close(kept, fresh, rtol=1e-4, atol=1e-4)


def test_a_second_generation_at_the_same_time_gets_its_own_session(runner_and_tokenizer):
    runner, tokenizer = runner_and_tokenizer
    cache = PrefixCache(runner, min_capacity=256)
    prompt = _prompt(tokenizer, "Who wrote Hamlet?")
    list(decode_tokens(runner, prompt, max_new_tokens=2, cache=cache))  # now the cache holds this prompt
    reference = list(decode_tokens(runner, prompt, max_new_tokens=6))
    outer = decode_tokens(runner, prompt, max_new_tokens=6, cache=cache)
    first_outer = next(outer)  # holds the kept session, paused after its first token
    inner = list(decode_tokens(runner, _prompt(tokenizer, "Name a colour."), max_new_tokens=6, cache=cache))
    assert inner and cache.reused == len(prompt) - 1  # the inner one did not touch (or count in) the kept cache
    assert [first_outer, *outer] == reference


def test_a_failed_read_leaves_the_kept_cache_consistent(runner_and_tokenizer):
    runner, tokenizer = runner_and_tokenizer
    cache = PrefixCache(runner, min_capacity=64)
    prompt = _prompt(tokenizer, "Who wrote Hamlet?")
    list(decode_tokens(runner, prompt, max_new_tokens=2, cache=cache))
    with pytest.raises(ValueError, match="KV cache holds"):  # more than the kept session's capacity mid-generation
        with cache.session(prompt, len(prompt) + 1) as (session, done):
            session.feed(prompt[done:])
            session.feed(list(range(10, 10 + session._session.capacity)))
    reference = list(decode_tokens(runner, prompt, max_new_tokens=6))
    assert list(decode_tokens(runner, prompt, max_new_tokens=6, cache=cache)) == reference
