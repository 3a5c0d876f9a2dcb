"""The bundled engine as a LangChain chat model: transformers causal LMs on our own decoding loop.

`LocalChatModel` streams real tokens: `_stream` runs `assistant.local.decoding`'s token loop in the
consumer's own thread, one forward pass per token it asks for. That loop, not `model.generate`, is
what makes the bundled model fast enough on a CPU (see that module). It holds its weights lazily
through a loader callable, so building it is instant and the weights load on the first call (or on
`ensure_loaded()`, which a UI can call from a worker with a progress callback).

Nothing decodes ahead of the consumer, so closing the stream early (a `break` out of `.stream()`)
stops generation at once, and a failure inside the model is raised to the consumer, as a
`ModelError`, at the token it broke on.

langchain-huggingface's `ChatHuggingFace(HuggingFacePipeline)` was not used: it builds the
pipeline eagerly, turns stop strings into single token ids, never stops a cancelled generation, lets
an error in its thread vanish (the consumer waits out a 60 s queue timeout) and reports no usage.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field, PrivateAttr

from assistant.errors import ModelError
from assistant.local.bundled import Progress
from assistant.local.cpu import others_running, usable_cpus
from assistant.local.streaming import StreamingChatModel, to_chat_dicts

if TYPE_CHECKING:  # the decoding module imports torch; load it only with a model
    from assistant.local.generation import Sampling

__all__ = ["LocalChatModel", "to_chat_dicts"]

_OVERRIDABLE = ("max_new_tokens", "temperature", "top_p", "repetition_penalty")
DTYPE_ENV = "ASSISTANT_DTYPE"


class _StopScanner:
    """Cut streamed text at the first stop sequence, holding back a tail that may begin one."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""

    def feed(self, piece: str) -> tuple[str, bool]:
        if not self.stops:
            return piece, False
        text = self.pending + piece
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.pending = ""
            return text[: min(hits)], True
        hold = max((k for s in self.stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
        self.pending = text[len(text) - hold :]
        return text[: len(text) - hold], False

    def flush(self) -> str:
        text, self.pending = self.pending, ""
        return text


class _ReplyText:
    """One reply's text as its tokens come: decoded without splitting a character, cut at the first
    stop sequence (`stopped` then says so)."""

    def __init__(self, tokenizer: Any, stops: list[str]) -> None:
        from assistant.local.generation import TextAssembler

        self._text, self._scanner = TextAssembler(tokenizer), _StopScanner(stops)
        self.stopped = False

    def push(self, token: int) -> str:
        piece, self.stopped = self._scanner.feed(self._text.push(token))
        return piece

    def finish(self) -> str:
        """What was held back, once no token follows (nothing after a stop)."""
        if self.stopped:
            return ""
        piece, self.stopped = self._scanner.feed(self._text.flush())
        return piece + ("" if self.stopped else self._scanner.flush())


@contextlib.contextmanager
def _model_failures() -> Iterator[None]:
    """torch's failures while generating (out of memory, bad shapes) as one `ModelError`; anything
    else (TypeError, KeyError, ...) is a bug of ours and surfaces as one."""
    try:
        yield
    except (RuntimeError, MemoryError, OSError) as exc:
        raise ModelError(f"the local model failed while generating: {type(exc).__name__}: {exc}") from exc


def _decode_threads() -> int:
    """Without a measured plan: half the logical CPUs, as llama-cpp-python does."""
    return max(1, usable_cpus() // 2)


def _prefill_threads() -> int:
    """Without a measured plan: every CPU this process may use, up to 8 (a prompt is one forward
    pass of large products)."""
    return max(1, min(8, usable_cpus()))


def _unless_busy(threads: int) -> int:
    """`threads`, fewer when other work holds the CPUs now: one token's products are small, and
    OpenMP threads spin at every barrier, so two threads sharing a core with another process
    decoded 4-9x slower than one on this project's 2-core machine."""
    free = usable_cpus() - others_running()
    return max(1, min(threads, free))


def _stop_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """The end-of-turn ids: the tokenizer's EOS and whatever the model's generation config adds."""
    config = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = [tokenizer.eos_token_id, *(config if isinstance(config, list | tuple) else [config])]
    return frozenset(int(i) for i in ids if i is not None)


class LocalChatModel(StreamingChatModel):
    """A transformers causal LM with a chat template, loaded on first use, streaming token by token.

    Greedy decoding by default (temperature 0); temperature > 0 samples with `top_p`. The default
    `repetition_penalty=1.0` is deliberate: 1.05-1.2 makes SmolLM2's prose less repetitive but breaks
    its code (it renames repeated identifiers), so a prose chain may pass `repetition_penalty=1.1`
    per call (`invoke(..., repetition_penalty=1.1)` or `.bind(...)`); so can `max_new_tokens`,
    `temperature` and `top_p`.
    """

    loader: Callable[..., tuple[Any, Any]]
    """Called once as `loader(progress)`; returns `(model, tokenizer)`."""
    model_name: str = "local"
    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 0.95
    repetition_penalty: float = 1.0
    stop: list[str] | None = None
    num_threads: int | None = None
    """torch intra-op threads per generated token (set in the thread that decodes); None: the
    count measured fastest with the kernels (dtype "auto"), fewer while other processes hold the
    CPUs; else half the usable CPUs."""
    prefill_threads: int | None = None
    """torch intra-op threads for reading the prompt; None: the measured count, else the usable
    CPUs, at most 8."""
    dtype: str = Field(default_factory=lambda: os.environ.get(DTYPE_ENV, "auto") or "auto")
    """Precision of a Llama-architecture model's linear layers while decoding, one of
    `assistant.local.decoding.DTYPES` (default $ASSISTANT_DTYPE, else "auto"). "auto" measures the
    kernels on this CPU when the weights are first prepared (`assistant.local.tuning`) and needs the
    loader's fp32 weights to find the bundled model's exact groups; other architectures decode as loaded."""

    keep_weights: bool = False
    """Keep the loader's fp32 model usable after its weights are packed for decoding (to compare
    against it); off, the packed copy is the only one and resident memory is ~0.5 GB smaller."""

    prepared: Any = None
    """An `assistant.local.prepared.PreparedCache`: where the weights prepared for decoding are kept after
    the first load, so later processes skip the loader (and transformers). Unused with keep_weights."""

    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _runner: Any = PrivateAttr(default=None)
    _stop_ids: frozenset[int] = PrivateAttr(default=frozenset())
    _prefix_cache: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "throughline-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "dtype": self.dtype, **{k: getattr(self, k) for k in _OVERRIDABLE}}

    @property
    def loaded(self) -> bool:
        return self._runner is not None

    def ensure_loaded(self, progress: Progress | None = None) -> tuple[Any, Any]:
        """Load the weights now (once; thread-safe) and return `(model, tokenizer)`; the model is None
        when the prepared weights were loaded instead (see `prepared`)."""
        with self._load_lock:
            if self._runner is None:
                if not self._load_prepared(progress):
                    if self._model is None:
                        self._model, self._tokenizer = self.loader(progress)
                    self._runner = self._build_runner(progress)
                    self._stop_ids = _stop_ids(self._model, self._tokenizer)
                    if self.prepared is not None and not self.keep_weights:
                        self.prepared.save(self._runner, self._stop_ids, self.dtype)
                self._warm_up()
        return self._model, self._tokenizer

    def _warm_up(self) -> None:
        """For our own runner (another model's forward is its own business and may keep state): the
        cache of the last prompt's keys and values, and a 2-token prompt and one token, thrown
        away: the first call of each kernel pays for page faults on fresh weights and oneDNN's
        set-up (~0.4 s for the bundled model here), better paid by the loading thread than by the
        first request's first token."""
        from assistant.local.decoding import LlamaRunner
        from assistant.local.generation import Sampling
        from assistant.local.prefix_cache import PrefixCache

        if isinstance(self._runner, LlamaRunner):
            token = min(self._stop_ids, default=0)
            for _ in self._tokens([token, token], 2, Sampling(), frozenset()):
                pass
            self._prefix_cache = PrefixCache(self._runner)

    def _load_prepared(self, progress: Progress | None) -> bool:
        if self.prepared is None or self.keep_weights or self._model is not None:
            return False
        found = self.prepared.load(self.dtype, progress)
        if found is None:
            return False
        self._runner, self._tokenizer, self._stop_ids = found.runner, found.tokenizer, found.stop_ids
        return True

    @property
    def plan(self) -> Any:
        """The measured kernel plan (`assistant.local.tuning.KernelPlan`) once loaded with dtype "auto"."""
        return getattr(self._runner, "plan", None)

    def threads(self) -> tuple[int, int]:
        """(prompt, per token) torch threads for the next generation."""
        plan = self.plan
        prefill = self.prefill_threads or (plan.prefill_threads if plan else _prefill_threads())
        decode = self.num_threads or _unless_busy(plan.decode_threads if plan else _decode_threads())
        return prefill, decode

    def _use_threads(self) -> None:
        import torch

        threads = self.num_threads or _decode_threads()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    def _build_runner(self, progress: Progress | None) -> Any:
        from assistant.local.decoding import build_runner

        if progress is not None:
            progress("preparing the model for decoding", None)
        self._use_threads()  # packing the weights is as slow as decoding on spinning threads
        try:
            return build_runner(self._model, self.dtype, release=not self.keep_weights)
        except ValueError as exc:  # an unknown dtype
            raise ModelError(f"cannot decode with {self.model_name}: {exc}") from exc

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        from assistant.local.generation import Sampling

        _, tokenizer = self.ensure_loaded()
        params = {k: kwargs.get(k, getattr(self, k)) for k in _OVERRIDABLE}
        prompt = self._encode(tokenizer, messages)
        sampling = Sampling(
            temperature=max(0.0, float(params["temperature"])),
            top_p=float(params["top_p"]),
            repetition_penalty=float(params["repetition_penalty"]),
        )
        tokens = self._tokens(prompt, int(params["max_new_tokens"]), sampling, self._stop_ids)
        reply = _ReplyText(tokenizer, list(stop or self.stop or []))
        produced = 0
        try:
            for token in tokens:
                produced += 1
                piece = reply.push(token)
                if piece:
                    yield self._chunk(piece, run_manager)
                if reply.stopped:
                    break
            tail = reply.finish()
            if tail:
                yield self._chunk(tail, run_manager)
        finally:  # also on GeneratorExit: the consumer stopped listening, so decoding stops here
            tokens.close()
        hit_stop = reply.stopped
        finish = "length" if not hit_stop and produced >= params["max_new_tokens"] else "stop"
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={
                    "input_tokens": len(prompt),
                    "output_tokens": produced,
                    "total_tokens": len(prompt) + produced,
                },
                response_metadata={"finish_reason": finish, "model_name": self.model_name},
                chunk_position="last",
            )
        )

    def _tokens(
        self, prompt: list[int], max_new_tokens: int, sampling: Sampling, stop_ids: frozenset[int]
    ) -> Iterator[int]:
        """The decoded token ids; a failure inside the model surfaces as one `ModelError`."""
        from assistant.local.generation import decode_tokens

        threads = self.threads()
        if self.plan is not None:  # the head's own threads give way to other work as the layers' do
            head = self.plan.head_threads
            self._runner.head_threads = None if self.num_threads or not head else _unless_busy(head)
        with _model_failures():
            yield from decode_tokens(
                self._runner, prompt, max_new_tokens=max_new_tokens, sampling=sampling, stop_ids=stop_ids,
                threads=threads, cache=self._prefix_cache,
            )

    def sample_replies(self, messages: list[BaseMessage], n: int, *, max_new_tokens: int, temperature: float,
                       stop: list[str] | None = None) -> tuple[list[str], int]:
        """`n` sampled replies to one prompt and the tokens they took, decoded together
        (`assistant.local.batch_decoding`): what n calls of `invoke` would give, for the price of
        about two of them while all n run (here: 8 rows cost 1.7x one). A model our runner cannot
        batch answers the n calls one after another."""
        from assistant.local.batch_decoding import decode_batch
        from assistant.local.decoding import LlamaRunner
        from assistant.local.generation import Sampling

        _, tokenizer = self.ensure_loaded()
        if not isinstance(self._runner, LlamaRunner):
            options = {"max_new_tokens": max_new_tokens, "temperature": temperature}
            answers = [self.invoke(messages, stop=stop, **options) for _ in range(n)]
            used = sum((r.usage_metadata or {}).get("output_tokens", 0) for r in answers)
            return [str(r.content) for r in answers], used
        prompt = self._encode(tokenizer, messages)
        sampling = Sampling(temperature=max(0.0, temperature), top_p=self.top_p,
                            repetition_penalty=self.repetition_penalty)
        prefill, _ = self.threads()   # a step's products have n rows: threads as for a prompt
        replies = [_ReplyText(tokenizer, list(stop or self.stop or [])) for _ in range(n)]
        texts, used = [""] * n, 0
        steps = decode_batch(self._runner, prompt, n, max_new_tokens=max_new_tokens, sampling=sampling,
                             stop_ids=self._stop_ids, threads=(prefill, _unless_busy(prefill)), cache=self._prefix_cache,
                             ended=lambda b: replies[b].stopped)
        with _model_failures(), contextlib.closing(steps):
            for step in steps:
                for b, token in enumerate(step):
                    if token is not None:
                        used += 1
                        if not replies[b].stopped:
                            texts[b] += replies[b].push(token)
        return [text + reply.finish() for text, reply in zip(texts, replies)], used

    @staticmethod
    def _encode(tokenizer: Any, messages: list[BaseMessage]) -> list[int]:
        """The prompt's token ids: the chat template's, or plain "role: text" lines without one.
        A last message from the assistant is a reply already begun: the model continues it instead of
        answering anew; alone, it is plain text to continue (the coding chain's function stubs)."""
        begun = str(messages[-1].text) if messages and messages[-1].type == "ai" else ""
        if begun and len(messages) == 1:   # nothing before it: plain text to continue, no chat template
            ids = tokenizer(begun)
            return [int(t) for t in (ids["input_ids"] if hasattr(ids, "keys") else ids)]
        chat = to_chat_dicts(messages[:-1] if begun else messages)
        if getattr(tokenizer, "chat_template", None) and not begun:
            ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        elif begun and getattr(tokenizer, "chat_template", None):
            ids = tokenizer(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False) + begun)
        else:
            ids = tokenizer("".join(f"{m['role']}: {m['content']}\n" for m in chat) + "assistant: " + begun)
        if hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding here
            ids = ids["input_ids"]
        return [int(t) for t in ids]
