"""The token loop over a runner (`assistant.local.decoding`): choosing each next token, reading the
prompt into a session (from a prefix cache when given), and token ids back into text.

Importing this module imports torch: do it only once a model is needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from assistant.local.decoding import Runner, Session

__all__ = ["Sampling", "TextAssembler", "choose_token", "decode_tokens", "prompt_read"]


# --- choosing tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen: greedy at temperature 0, else top-k then top-p sampling.

    top_k=50 is generate()'s default, kept so sampled replies read as before; it also spares
    sorting the whole vocabulary for top-p.
    """

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 50
    repetition_penalty: float = 1.0


def choose_token(
    logits: torch.Tensor, sampling: Sampling, seen: list[int], generator: torch.Generator | None = None
) -> int:
    """The next token id from 1-D logits; `seen` (prompt and reply so far) feeds the repetition penalty."""
    if sampling.repetition_penalty != 1.0 and seen:
        index = torch.tensor(seen)
        scores = logits.gather(0, index)
        penalty = sampling.repetition_penalty
        logits = logits.scatter(0, index, torch.where(scores < 0, scores * penalty, scores / penalty))
    if sampling.temperature <= 0:
        return int(logits.argmax())
    top = torch.topk(logits, min(max(1, sampling.top_k), logits.shape[0]))
    probs = torch.softmax(top.values / sampling.temperature, 0)
    if sampling.top_p < 1.0:
        before = probs.cumsum(0) - probs  # mass of the more likely tokens
        probs = torch.where(before < sampling.top_p, probs, torch.zeros_like(probs))
    pick = torch.multinomial(probs, 1, generator=generator)
    return int(top.indices[pick])


@contextlib.contextmanager
def prompt_read(runner: "Runner", prompt: list[int], capacity: int, threads: int | None = None, cache: Any = None
                ) -> Iterator[tuple["Session", torch.Tensor]]:
    """A session that has read `prompt` (from where the prefix cache's last prompt stops matching it,
    with `threads` torch threads) and the logits after it."""
    sessions = cache.session(prompt, capacity) if cache is not None else contextlib.nullcontext((runner.session(capacity), 0))
    with sessions as (session, done):
        if threads is not None:
            torch.set_num_threads(threads)
        yield session, session.feed(prompt[done:])


def decode_tokens(
    runner: "Runner",
    prompt: list[int],
    *,
    max_new_tokens: int,
    sampling: Sampling = Sampling(),
    stop_ids: frozenset[int] = frozenset(),
    generator: torch.Generator | None = None,
    threads: tuple[int, int] | None = None,
    cache: Any = None,
) -> Iterator[int]:
    """Yield generated token ids one at a time; a stop id is yielded, then decoding ends.

    `threads` is (prompt, per token): torch's intra-op threads for the prompt's one big forward
    pass and for each token after it. A prompt's products are large enough to split across cores
    (two threads read a 480-token prompt 1.6-1.9x faster here), one token's are not. `cache` is an
    `assistant.local.prefix_cache.PrefixCache` of `runner`: the prompt is then read from where it stops
    matching the last one.

    Nothing runs between yields, so closing the iterator stops generation at once, and an error is
    raised to whoever asked for the token.
    """
    if max_new_tokens <= 0:
        return
    capacity = len(prompt) + max_new_tokens
    with prompt_read(runner, prompt, capacity, threads[0] if threads else None, cache) as (session, logits):
        if threads is not None:
            torch.set_num_threads(threads[1])
        seen = list(prompt) if sampling.repetition_penalty != 1.0 else []
        for produced in range(1, max_new_tokens + 1):
            token = choose_token(logits, sampling, seen, generator)
            yield token
            if token in stop_ids or produced == max_new_tokens:
                return
            if seen:
                seen.append(token)
            logits = session.feed([token])


# --- text --------------------------------------------------------------------------------------------


class TextAssembler:
    """Token ids in, new text out, never splitting a character across pieces.

    Byte-level tokenizers spread one UTF-8 character (an emoji, a CJK glyph) over several tokens;
    decoding a token alone gives U+FFFD. Each id is decoded together with the previous piece's
    tokens and only the text beyond them is returned, held back while it ends in an incomplete
    character (the offsets scheme of vLLM and TGI).
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0  # start of the tokens decoded for context
        self._read = 0  # end of the tokens already returned as text

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def push(self, token: int) -> str:
        self._ids.append(token)
        done = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        if len(text) > len(done) and not text.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self._ids)
            return text[len(done) :]
        return ""

    def flush(self) -> str:
        """Whatever is held back, incomplete characters included (the reply ended mid-character)."""
        done = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return text[len(done) :]
