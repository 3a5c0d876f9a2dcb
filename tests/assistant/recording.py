"""A chat model wrapper that records every prompt it is given and passes the call to a real model,
so tests can assert on what reached each chain's context while the real model answers."""

from __future__ import annotations

from typing import Any, Iterator

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field


class RecordingModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: Any
    model_name: str = ""
    max_new_tokens: int = 512
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    calls_kwargs: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def wrap(cls, inner: Any) -> "RecordingModel":
        return cls(inner=inner, model_name=getattr(inner, "model_name", ""),
                   max_new_tokens=getattr(inner, "max_new_tokens", 512))

    @property
    def _llm_type(self) -> str:
        return self.inner._llm_type  # per-call options (tuned()) reach the wrapped local model

    def ensure_loaded(self, progress: Any = None) -> Any:
        ensure = getattr(self.inner, "ensure_loaded", None)
        return ensure(progress) if callable(ensure) else None

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.prompts.append(list(messages))
        self.calls_kwargs.append(dict(kwargs))
        return self.inner._generate(messages, stop=stop, **kwargs)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        self.prompts.append(list(messages))
        self.calls_kwargs.append(dict(kwargs))
        yield from self.inner._stream(messages, stop=stop, **kwargs)

    def text_of(self, index: int) -> str:
        return "\n".join(str(m.content) for m in self.prompts[index])
