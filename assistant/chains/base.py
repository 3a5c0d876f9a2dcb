"""What a chain is, and the pieces every chain shares.

A chain turns one request plus the thread's context into an answer and, usually, an artifact. The
agent owns the turn (recall, route, context, remember); a chain owns only its answer. Chains are
generators so tokens and tool activity reach the face as they happen: they yield events and
*return* a ChainResult.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generator, Protocol, Sequence, runtime_checkable

from assistant.events import Event, RecalledMemory, Token
from assistant.sessions import Session

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage


@dataclass(frozen=True)
class NewArtifact:
    """An artifact a chain wants kept; the agent writes it and announces it. `path` is for a file the
    chain already wrote (a chart's PNG): it is recorded as is, and `content` describes it."""

    kind: str
    title: str
    content: str
    path: str | None = None


@dataclass(frozen=True)
class ChainResult:
    text: str
    artifacts: tuple[NewArtifact, ...] = ()
    tokens: int = 0


@dataclass
class ChainRun:
    """Everything a chain may use for one request."""

    request: str
    session: Session
    workspace: Path
    model: "BaseChatModel"
    memories: Sequence[RecalledMemory] = ()
    auto_run: bool = False
    approve: Callable[[str], bool] | None = None
    cwd: Path = field(default_factory=Path.cwd)
    notes: dict[str, Any] = field(default_factory=dict)  # a chain's own state between its steps


@runtime_checkable
class Chain(Protocol):
    name: str
    description: str
    prefix: str  # "/write"
    examples: Sequence[str]  # routing examples
    system_prompt: str

    def extra_context(self, run: ChainRun) -> list[str]:
        """Blocks of data for the prompt beyond memories and artifacts (a table profile, say)."""
        ...

    def run(self, run: ChainRun, messages: "list[BaseMessage]") -> Generator[Event, None, ChainResult]: ...


def stream_model(model: "BaseChatModel", messages: "list[BaseMessage]") -> Generator[Token, None, tuple[str, int]]:
    """Stream the model's reply as Token events; return (text, tokens generated)."""
    from assistant.models import model_errors

    parts: list[str] = []
    tokens = 0
    with model_errors(model):  # a caller-supplied model's client errors become ours too
        for chunk in model.stream(messages):
            text = chunk.content if isinstance(chunk.content, str) else "".join(map(str, chunk.content))
            usage = getattr(chunk, "usage_metadata", None)
            if usage:
                tokens = max(tokens, int(usage.get("output_tokens", 0)))
            if text:
                parts.append(text)
                yield Token(text)
    text = "".join(parts)
    return text, tokens or len(parts)


def short_title(request: str, words: int = 7) -> str:
    """A readable title from the request's first line: 'Write a haiku about the sea'."""
    first = re.sub(r"^/\w+\s+", "", request.strip()).splitlines()[0] if request.strip() else "untitled"
    kept = first.split()[:words]
    title = " ".join(kept).rstrip(".,:;!?")
    return (title[:60] or "untitled") + ("…" if len(first.split()) > words else "")


@dataclass
class PromptChain:
    """A chain that answers with one model call; subclasses add extra context and artifacts."""

    name: str
    description: str
    prefix: str
    system_prompt: str
    examples: Sequence[str] = ()

    def extra_context(self, run: ChainRun) -> list[str]:
        return []

    def artifacts(self, run: ChainRun, text: str) -> tuple[NewArtifact, ...]:
        return ()

    def finish(self, text: str) -> str:
        """Normalise the model's text once it is complete."""
        return text.strip()

    def run(self, run: ChainRun, messages: "list[BaseMessage]") -> Generator[Event, None, ChainResult]:
        text, tokens = yield from stream_model(run.model, messages)
        text = self.finish(text)
        return ChainResult(text=text, artifacts=self.artifacts(run, text), tokens=tokens)
