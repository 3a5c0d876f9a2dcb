"""A fast scripted chat model for the server's tests and bench (test-only: never in the product).

It streams a fixed-shape reply word by word, optionally pausing between words so a test can
disconnect mid-stream, and counts the words it produced so a test can see generation stop.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class ScriptedChat(BaseChatModel):
    """Replies "Scripted reply N about: <request>" plus `extra_words` filler words."""

    delay_s: float = 0.0
    reply: str = ""  # a fixed reply instead (e.g. a fenced code block for the coding chain)
    extra_words: int = 0
    long_words: int = 0  # filler words only for requests that ask for something "long"
    produced: int = 0
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted-test"

    def _words(self, messages: list[BaseMessage]) -> list[str]:
        with _LOCK:
            self.calls += 1
            n = self.calls
        if self.reply:
            return re.findall(r"\s*\S+", self.reply)
        request = str(messages[-1].content).strip().splitlines()[-1][:80] if messages else ""
        filler = self.extra_words + (self.long_words if "long" in request else 0)
        return f"Scripted reply {n} about: {request}".split() + ["more"] * filler

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for i, word in enumerate(self._words(messages)):
            if self.delay_s:
                time.sleep(self.delay_s)
            with _LOCK:
                self.produced += 1
            text = word if i == 0 or self.reply else " " + word
            yield ChatGenerationChunk(message=AIMessageChunk(content=text))

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        text = "".join(str(chunk.message.content) for chunk in self._stream(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


_LOCK = threading.Lock()
