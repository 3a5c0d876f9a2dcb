"""What the in-process chat models share: LangChain's `_generate` as the collected stream, token chunks
that reach LangChain's callbacks, and messages as the role/content dicts chat templates expect.

Both in-process models (`LocalChatModel`, `LlamaCppChatModel`) produce tokens one by one, so the
stream is the primary path and a whole reply is only the stream collected.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage, ChatMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

__all__ = ["StreamingChatModel", "to_chat_dicts"]

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}


def to_chat_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as the `{"role", "content"}` dicts chat templates expect (text only)."""
    return [
        {"role": m.role if isinstance(m, ChatMessage) else _ROLES.get(m.type, "user"), "content": str(m.text)}
        for m in messages
    ]


class StreamingChatModel(BaseChatModel):
    """A chat model whose `_stream` is the real path; subclasses implement `_stream` only, and load
    their weights once under `_load_lock` (a UI's warm-up thread and the first turn may race)."""

    _load_lock: Any = PrivateAttr(default_factory=threading.Lock)

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
        raise NotImplementedError

    @staticmethod
    def _chunk(text: str, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
        if run_manager is not None:
            run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk
