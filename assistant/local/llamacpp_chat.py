"""A GGUF file run by llama-cpp-python as a LangChain chat model (the `throughline[llamacpp]` extra).

It is also the baseline `bench_generation` compares the bundled engine with, on the same GGUF.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import PrivateAttr

from assistant.local.bundled import Progress
from assistant.local.streaming import StreamingChatModel, to_chat_dicts

__all__ = ["LlamaCppChatModel"]


class LlamaCppChatModel(StreamingChatModel):
    """A GGUF file run by llama-cpp-python (the `throughline[llamacpp]` extra), loaded on first use."""

    model_path: str
    max_new_tokens: int = 512
    temperature: float = 0.0
    n_ctx: int = 4096
    n_threads: int | None = None
    """llama.cpp's threads; None keeps llama-cpp-python's default (half the logical CPUs)."""
    stop: list[str] | None = None

    _llama: Any = PrivateAttr(default=None)

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
                threads = {"n_threads": self.n_threads} if self.n_threads else {}
                self._llama = Llama(model_path=self.model_path, n_ctx=self.n_ctx, verbose=False, **threads)
        return self._llama

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
                    yield self._chunk(text, run_manager)
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
