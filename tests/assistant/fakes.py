"""LangChain's own fake chat model, recording what the agent sent it: lets unit tests assert on the
context each chain received, deterministically and without loading a model."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage

from assistant.chains.steps import LOCAL_MODEL_TYPE


class RecordingFakeChat(FakeListChatModel):
    """FakeListChatModel that keeps every prompt it was given (as plain text per message)."""

    prompts: list[list[BaseMessage]] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompts = []

    def _record(self, messages: list[BaseMessage]) -> None:
        self.prompts.append(list(messages))

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self._record(messages)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self._record(messages)
        yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)

    @property
    def last_system(self) -> str:
        return str(self.prompts[-1][0].content)

    @property
    def last_text(self) -> str:
        return "\n".join(str(m.content) for m in self.prompts[-1])


class FakeLocal(RecordingFakeChat):
    """A fake that passes for the local model (so it is given generation options) and keeps them."""

    options: list[dict] = []

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.options = []

    @property
    def _llm_type(self) -> str:
        return LOCAL_MODEL_TYPE

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self.options.append(kwargs)
        yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)


def drain(steps: Generator[Any, None, Any]) -> tuple[list[Any], Any]:
    """Run a chain's steps to the end: (every event it yielded, the value it returned)."""
    events = []
    while True:
        try:
            events.append(next(steps))
        except StopIteration as stop:
            return events, stop.value
