"""Steps the working chains share: asking before code runs, a tool call wrapped in events, and
model calls tuned to the model behind them.

Every step is a generator that yields events (so the face sees it happen) and returns its value;
a chain strings them together with `yield from`. A tool that raises becomes a `ToolFinished` with
`error` set and a failed result — the chain decides what to do next; the turn never crashes on it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generator

from assistant.chains.base import ChainRun
from assistant.events import ApprovalNeeded, Event, ToolFinished, ToolStarted

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

LOCAL_MODEL_TYPE = "throughline-local"
_SMALL_NAMES = re.compile(r"\b(?:bundled|135M|360M|tiny|small)\b", re.I)


@dataclass(frozen=True)
class StepResult:
    ok: bool
    output: Any = None
    error: str | None = None
    duration_s: float = 0.0


def approval(run: ChainRun, code: str, language: str = "python") -> Generator[Event, None, bool | None]:
    """True: run it. False: the person said no. None: nobody to ask and auto-run is off."""
    if run.auto_run:
        return True
    if run.approve is None:
        return None
    yield ApprovalNeeded(code=code, language=language)  # the agent adds how it would be confined
    return bool(run.approve(code))


def tool_step(
    name: str,
    arguments: dict[str, Any],
    call: Callable[[], Any],
    shown: Callable[[Any], Any] | None = None,
) -> Generator[Event, None, StepResult]:
    """Run one tool call between ToolStarted and ToolFinished. An exception is the tool's error
    result (as `tools.Tool.invoke` does), never the turn's crash. `shown` picks what the face sees."""
    yield ToolStarted(name=name, arguments=arguments)
    start = time.perf_counter()
    try:
        output = call()
    except Exception as exc:  # a failing tool is a result for the chain to act on
        duration = time.perf_counter() - start
        error = f"{type(exc).__name__}: {exc}"
        yield ToolFinished(name=name, error=error, duration_s=round(duration, 3))
        return StepResult(ok=False, error=error, duration_s=duration)
    duration = time.perf_counter() - start
    yield ToolFinished(name=name, result=shown(output) if shown else output, duration_s=round(duration, 3))
    return StepResult(ok=True, output=output, duration_s=duration)


def is_small_model(model: "BaseChatModel") -> bool:
    """The bundled model and its kind: worth one short call, not trusted to write analysis code."""
    name = str(getattr(model, "model_name", "") or getattr(model, "model", "") or "")
    return getattr(model, "_llm_type", "") == LOCAL_MODEL_TYPE and bool(_SMALL_NAMES.search(name))


def tuned(model: "BaseChatModel", **options: Any) -> "BaseChatModel":
    """The model with per-call generation options — only where the model accepts them (the local
    models take max_new_tokens, repetition_penalty, ...; an API model would reject unknown ones)."""
    if getattr(model, "_llm_type", "") != LOCAL_MODEL_TYPE or not options:
        return model
    return model.bind(**options)  # type: ignore[return-value]


def quietly(steps: Generator[Any, None, Any]) -> Any:
    """Drive a step to its end without passing its events on (an intermediate model call whose text
    is checked before anyone sees it); return the step's value."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
