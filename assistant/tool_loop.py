"""The tool loop: a capable model calls tools itself, a bounded number of times, then answers.

    text, tokens = yield from run_tool_loop(run, messages, tools, policy=..., limits=...)

One step is one model call (LangChain `bind_tools`, streamed: its text reaches the face as Token
events). Every tool call it makes runs between ToolStarted/ToolFinished and its result goes back
as a ToolMessage; the loop ends when the model answers without calling a tool, or at the step or
time limit. smolagents' rule: a failing tool, an unknown tool and malformed arguments are
messages to the model ("Error: ..."), never a crashed turn. A tool that changes anything
(`Tool.side_effects`: running code, writing files, an MCP tool not declared read-only) passes the
same approval gate as generated code — unless the person started with `--auto-run` or allowed the
tool in config.toml (`[tools] auto_approve`). Whether a model gets the loop at all is decided per
model by `can_call_tools` (the bundled model keeps the deterministic chains).
"""

from __future__ import annotations

import fnmatch
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generator, Sequence

from assistant.chains.base import ChainRun
from assistant.chains.steps import approval
from assistant.errors import ConfigError, ToolCallingUnsupported
from assistant.events import Event, Token, ToolFinished, ToolStarted

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from tools import Tool

MAX_RESULT_CHARS = 8000  # of one tool result, as the model reads it
SHOWN_VALUE_CHARS = 4000  # of one argument, as the approval dialog shows it


@dataclass(frozen=True)
class ToolPolicy:
    """Which tool calls run without asking."""

    auto_run: bool = False
    auto_approve: tuple[str, ...] = ()  # names or shell-style patterns ("files__*")

    def needs_approval(self, tool: "Tool") -> bool:
        if not tool.side_effects or self.auto_run:
            return False
        return not any(fnmatch.fnmatchcase(tool.name, pattern) for pattern in self.auto_approve)


@dataclass(frozen=True)
class LoopLimits:
    max_steps: int = 8  # model calls
    time_limit: float = 300.0  # seconds for the whole loop, checked between steps
    max_tokens: int = 16000  # tokens the model may generate in the whole loop, checked between steps


def can_call_tools(model: "BaseChatModel", setting: str = "auto") -> bool:
    """Whether `model` gets the tool loop: `auto` asks its class (one that implements `bind_tools`;
    LangChain's base raises NotImplementedError, and so the bundled LocalChatModel does not)."""
    if setting == "off":
        return False
    from langchain_core.language_models import BaseChatModel

    implemented = getattr(type(model), "bind_tools", None) not in (None, BaseChatModel.bind_tools)
    if setting == "on" and not implemented:
        raise ConfigError(f"tool_calling = on, but {type(model).__name__} cannot call tools (no bind_tools); "
                          "set tool_calling = auto or off")
    return implemented


def function_schema(tool: "Tool") -> dict[str, Any]:
    """The OpenAI-style function definition `bind_tools` takes."""
    parameters = {k: v for k, v in tool.schema().items() if k not in ("title", "description")}
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    return {"type": "function", "function": {"name": tool.name, "description": tool.description,
                                             "parameters": parameters}}


def run_tool_loop(
    run: ChainRun,
    messages: "list[BaseMessage]",
    tools: Sequence["Tool"],
    *,
    policy: ToolPolicy,
    limits: LoopLimits = LoopLimits(),
) -> Generator[Event, None, tuple[str, int]]:
    """The loop; returns (everything the model said, tokens generated)."""
    model = run.model.bind_tools([function_schema(t) for t in tools]) if tools else run.model
    by_name = {t.name: t for t in tools}
    history = list(messages)
    said: list[str] = []
    tokens = 0
    deadline = time.monotonic() + limits.time_limit
    for step in range(limits.max_steps):
        try:
            message, used = yield from _model_step(run.model, model, history, lead="\n\n" if said else "")
        except Exception as exc:
            refused = _http_refusal(exc) if step == 0 and tools else None
            if refused is not None:
                raise ToolCallingUnsupported(  # vLLM without a tool parser, an Ollama model without tools
                    f"the model refused the tools it was offered (HTTP {refused.status_code}: "
                    f"{' '.join(str(refused).split())[:200]}); set tool_calling = \"off\" for it") from exc
            raise
        tokens += used
        history.append(message)
        text = message.content if isinstance(message.content, str) else ""
        if text.strip():
            said.append(("\n\n" if said else "") + text)
        calls = list(message.tool_calls) + list(getattr(message, "invalid_tool_calls", []) or [])
        if not calls:
            return "".join(said), tokens
        for call in calls:
            history.append((yield from _answer_call(run, call, by_name, policy)))
        if time.monotonic() > deadline:
            note = f"(Stopped: the tool loop ran past its time limit of {limits.time_limit:g} s.)"
            break
        if tokens >= limits.max_tokens:
            note = (f"(Stopped: the model generated {tokens} tokens in the tool loop, past its limit of "
                    f"{limits.max_tokens}; raise tool_token_limit to let it go on.)")
            break
    else:
        note = (f"(Stopped: the model was still calling tools after {limits.max_steps} steps; "
                "raise max_tool_steps to let it go on.)")
    yield Token(("\n\n" if said else "") + note)
    said.append(("\n\n" if said else "") + note)
    return "".join(said), tokens


def _http_refusal(exc: BaseException) -> BaseException | None:
    """The client's HTTP 400/422 error behind `exc` (our translation of it keeps it as the cause)."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "status_code", None) in (400, 422):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _model_step(base: "BaseChatModel", model: Any, history: list, lead: str = "") -> Generator[Event, None, tuple[Any, int]]:
    """One streamed model call: Token events for its text (after `lead`, which separates it from an
    earlier step's), then the whole message with its tool calls."""
    from assistant.models import model_errors

    whole = None
    with model_errors(base):
        for chunk in model.stream(history):
            whole = chunk if whole is None else whole + chunk
            text = chunk.content if isinstance(chunk.content, str) else ""
            if text:
                yield Token(lead + text)
                lead = ""
    if whole is None:
        from langchain_core.messages import AIMessage

        return AIMessage(content=""), 0
    usage = getattr(whole, "usage_metadata", None) or {}
    if usage.get("output_tokens"):
        return whole, int(usage["output_tokens"])
    # A server that reports no usage: about four characters a token, text and call arguments alike.
    text = whole.content if isinstance(whole.content, str) else ""
    arguments = "".join(json.dumps(c.get("args", {})) for c in whole.tool_calls)
    return whole, max(1, (len(text) + len(arguments)) // 4)


def _answer_call(run: ChainRun, call: dict[str, Any], by_name: dict[str, "Tool"],
                 policy: ToolPolicy) -> Generator[Event, None, Any]:
    """Run one call the model made (if it may run) and return the ToolMessage that answers it."""
    from langchain_core.messages import ToolMessage

    name = str(call.get("name") or "")
    call_id = call.get("id") or f"call_{uuid.uuid4().hex[:12]}"

    def reply(content: str, ok: bool = True) -> ToolMessage:
        return ToolMessage(content=content[:MAX_RESULT_CHARS], tool_call_id=call_id, name=name or "unknown",
                           status="success" if ok else "error")

    arguments = call.get("args")
    if call.get("type") == "invalid_tool_call" or not isinstance(arguments, dict):
        error = f"the arguments for {name or 'the tool'} are not a JSON object: {str(arguments)[:300]!r}"
        yield ToolStarted(name=name or "unknown", arguments={})
        yield ToolFinished(name=name or "unknown", error=f"ToolInputError: {error}")
        return reply(f"Error: {error}. Call it again with a JSON object matching its schema.", ok=False)
    tool = by_name.get(name)
    if tool is None:
        known = ", ".join(sorted(by_name)) or "none"
        yield ToolStarted(name=name or "unknown", arguments=arguments)
        yield ToolFinished(name=name or "unknown", error=f"UnknownToolError: no tool named {name!r}")
        return reply(f"Error: there is no tool named {name!r}. Available tools: {known}.", ok=False)
    if policy.needs_approval(tool):
        answer = yield from approval(run, render_call(tool, arguments), "python")
        if answer is False:
            return reply(f"The user declined this call to {name}; it did not run. Do not retry it: answer "
                         "without it, or ask the user what they want instead.", ok=False)
        if answer is None:
            return reply(f"Not run: {name} changes things and needs the user's approval, which cannot be "
                         "asked here (the user can allow it with --auto-run, or list it in config.toml "
                         "under [tools] auto_approve).", ok=False)
    yield ToolStarted(name=name, arguments=arguments)
    result = tool.invoke(arguments)
    yield ToolFinished(name=name, result=result.output if result.ok else None, error=result.error,
                       duration_s=round(result.duration_s, 3))
    return reply(result.as_text(), ok=result.ok)


def render_call(tool: "Tool", arguments: dict[str, Any]) -> str:
    """A tool call as the person approving it reads it: a Python call with a comment saying what it is."""
    shown = []
    for key, value in arguments.items():
        text = repr(value)
        if len(text) > SHOWN_VALUE_CHARS:
            text = text[:SHOWN_VALUE_CHARS] + f"…  # {len(text) - SHOWN_VALUE_CHARS} more characters"
        shown.append(f"    {key}={text},")
    body = "\n".join(shown)
    summary = json.dumps(tool.description[:120], ensure_ascii=False)[1:-1]
    return f"# tool call: {tool.name} — {summary}\n{tool.name}(\n{body}\n)" if shown else \
        f"# tool call: {tool.name} — {summary}\n{tool.name}()"
