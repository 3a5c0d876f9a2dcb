"""LangChain chat models that run in this process: transformers causal LMs and llama.cpp GGUF files.

`LocalChatModel` streams real tokens: `model.generate` runs in a thread and feeds a
`TextIteratorStreamer`; `_stream` yields each decoded piece as it arrives. It holds its weights
lazily through a loader callable, so building it is instant and the weights load on the first call
(or on `ensure_loaded()`, which a UI can call from a worker with a progress callback).

Closing the stream early (a `break` out of `.stream()`) sets an event that a stopping criterion
checks after every token, so generation stops within a token or two and the thread is joined.
An exception in the generation thread is re-raised to the consumer as a `ModelError`.

langchain-huggingface's `ChatHuggingFace(HuggingFacePipeline)` was not used: it builds the
pipeline eagerly, turns stop strings into single token ids, never stops a cancelled generation, lets
an error in its thread vanish (the consumer waits out a 60 s queue timeout) and reports no usage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage, ChatMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from assistant.bundled import Progress
from assistant.errors import ModelError

__all__ = ["LlamaCppChatModel", "LocalChatModel", "to_chat_dicts"]

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}
_OVERRIDABLE = ("max_new_tokens", "temperature", "top_p", "repetition_penalty")


def to_chat_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as the `{"role", "content"}` dicts chat templates expect (text only)."""
    return [
        {"role": m.role if isinstance(m, ChatMessage) else _ROLES.get(m.type, "user"), "content": str(m.text)}
        for m in messages
    ]


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


class LocalChatModel(BaseChatModel):
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
    """torch intra-op threads for generation; None keeps torch's default (the physical cores)."""

    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _load_lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "throughline-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, **{k: getattr(self, k) for k in _OVERRIDABLE}}

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def ensure_loaded(self, progress: Progress | None = None) -> tuple[Any, Any]:
        """Load the weights now (once; thread-safe) and return `(model, tokenizer)`."""
        with self._load_lock:
            if self._model is None:
                self._model, self._tokenizer = self.loader(progress)
        return self._model, self._tokenizer

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        model, tokenizer = self.ensure_loaded()
        params = {k: kwargs.get(k, getattr(self, k)) for k in _OVERRIDABLE}
        inputs = self._encode(tokenizer, messages)
        prompt_tokens = int(inputs["input_ids"].shape[-1])
        cancelled = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancelled.is_set(), dtype=torch.bool)

        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = params["temperature"] > 0
        generate_kwargs: dict[str, Any] = dict(
            **inputs,
            streamer=streamer,
            max_new_tokens=params["max_new_tokens"],
            stopping_criteria=StoppingCriteriaList([_Cancelled()]),
            pad_token_id=tokenizer.pad_token_id,
            repetition_penalty=params["repetition_penalty"],
            do_sample=sampling,
            **({"temperature": params["temperature"], "top_p": params["top_p"]} if sampling else {}),
        )
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                if self.num_threads:
                    torch.set_num_threads(self.num_threads)
                with torch.inference_mode():
                    output = model.generate(**generate_kwargs)
                outcome["tokens"] = int(output.shape[-1]) - prompt_tokens
            except BaseException as exc:  # handed to the consumer below, never lost
                outcome["error"] = exc
                streamer.end()  # unblocks the consumer waiting on the queue

        thread = threading.Thread(target=work, name="local-chat-generate", daemon=True)
        thread.start()
        scanner = _StopScanner(list(stop or self.stop or []))
        hit_stop = False
        try:
            for piece in streamer:
                text, hit_stop = scanner.feed(piece)
                if text:
                    yield self._chunk(text, run_manager)
                if hit_stop:
                    break
            if not hit_stop and (tail := scanner.flush()):
                yield self._chunk(tail, run_manager)
        finally:  # also on GeneratorExit: the consumer stopped listening
            cancelled.set()
            thread.join()
        if "error" in outcome:
            exc = outcome["error"]
            raise ModelError(f"the local model failed while generating: {type(exc).__name__}: {exc}") from exc
        tokens = outcome.get("tokens", 0)
        finish = "length" if not hit_stop and tokens >= params["max_new_tokens"] else "stop"
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={
                    "input_tokens": prompt_tokens,
                    "output_tokens": tokens,
                    "total_tokens": prompt_tokens + tokens,
                },
                response_metadata={"finish_reason": finish, "model_name": self.model_name},
                chunk_position="last",
            )
        )

    @staticmethod
    def _encode(tokenizer: Any, messages: list[BaseMessage]) -> Any:
        chat = to_chat_dicts(messages)
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(
                chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        prompt = "".join(f"{m['role']}: {m['content']}\n" for m in chat) + "assistant: "
        return tokenizer(prompt, return_tensors="pt")

    @staticmethod
    def _chunk(text: str, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
        if run_manager is not None:
            run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk


class LlamaCppChatModel(BaseChatModel):
    """A GGUF file run by llama-cpp-python (the `throughline[llamacpp]` extra), loaded on first use."""

    model_path: str
    max_new_tokens: int = 512
    temperature: float = 0.0
    n_ctx: int = 4096
    stop: list[str] | None = None

    _llama: Any = PrivateAttr(default=None)
    _load_lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "throughline-llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "max_new_tokens": self.max_new_tokens, "temperature": self.temperature}

    def ensure_loaded(self, progress: Progress | None = None) -> Any:
        with self._load_lock:
            if self._llama is None:
                from llama_cpp import Llama

                if progress is not None:
                    progress(f"loading {self.model_path}", None)
                self._llama = Llama(model_path=self.model_path, n_ctx=self.n_ctx, verbose=False)
        return self._llama

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        llama = self.ensure_loaded()
        parts = llama.create_chat_completion(
            messages=to_chat_dicts(messages),
            max_tokens=kwargs.get("max_new_tokens", self.max_new_tokens),
            temperature=kwargs.get("temperature", self.temperature),
            stop=list(stop or self.stop or []) or None,
            stream=True,
        )
        tokens, finish = 0, None
        try:
            for part in parts:
                choice = part["choices"][0]
                finish = choice.get("finish_reason") or finish
                text = choice.get("delta", {}).get("content") or ""
                if text:
                    tokens += 1  # llama.cpp streams one token per part
                    yield LocalChatModel._chunk(text, run_manager)
        finally:
            parts.close()  # stops llama.cpp's token loop when the consumer stops early
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={"input_tokens": 0, "output_tokens": tokens, "total_tokens": tokens},
                response_metadata={"finish_reason": finish or "stop", "model_path": self.model_path},
                chunk_position="last",
            )
        )
