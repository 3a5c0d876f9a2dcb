'''Tools: plain typed functions a model can call.

    @tool
    def word_count(text: str) -> int:
        """Count the words in a text."""
        return len(text.split())

    word_count("a b")                    # 2 — arguments validated by the pydantic args model
    word_count.invoke({"text": "a b"})   # ToolResult(ok=True, output=2, error=None, duration_s=...)
    word_count.invoke({})                # ToolResult(ok=False, error="ToolInputError: ...") — never raises
    word_count.schema()                  # JSON schema of the arguments
    word_count.as_langchain()            # a langchain_core StructuredTool; Tool.from_langchain() back

The description is the docstring's first paragraph; an `Args:` section (Google style) or
`Annotated[T, "text"]` describes the parameters. Parameters listed in `injected=` (a workspace, a
session) come from the program, never from the model: they are left out of the schema, a model
cannot pass them, and `Tool.bind(workspace=...)` fixes them.

Two declarations matter when a model calls tools by itself: `side_effects=True` (the tool changes
something — runs code, writes files — so the person approves each call unless they opted out) and
`chains=("analysis",)` (the chains it is offered in; by default every chain).
'''

from __future__ import annotations

import inspect
import json
import re
import time
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Annotated, Any, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from tools.errors import ToolDefinitionError, ToolInputError

__all__ = ["Tool", "ToolResult", "tool"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_ARGS_HEADERS = ("Args:", "Arguments:", "Parameters:")
_ARG_LINE = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_JSON_TYPES: dict[str, Any] = {
    "string": str, "integer": int, "number": float, "boolean": bool, "array": list, "object": dict,
}


@dataclass(frozen=True)
class ToolResult:
    """What one tool call produced. `ok=False` carries `error` as "ExceptionClass: message"."""

    ok: bool
    output: Any = None
    error: str | None = None
    duration_s: float = 0.0

    def as_text(self) -> str:
        """The result as a model reads it: the output (JSON unless a string) or "Error: ..."."""
        if not self.ok:
            return f"Error: {self.error}"
        if isinstance(self.output, str):
            return self.output
        try:
            return json.dumps(self.output, ensure_ascii=False, default=str)
        except ValueError:  # circular structure
            return repr(self.output)


@dataclass(frozen=True, eq=False)
class Tool:
    """A named, described function with a pydantic model for its model-facing arguments."""

    name: str
    description: str
    args_model: type[BaseModel]
    function: Callable[..., Any] = field(repr=False)
    injected: tuple[str, ...] = ()
    bound: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    # (parameter name, model field name) in signature order; they differ only when a parameter
    # name would clash with pydantic (e.g. "schema", "model_x", "_x") and is carried by an alias.
    arg_fields: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    side_effects: bool = False  # runs code, writes files, reaches outside: each model call is approved
    chains: tuple[str, ...] = ()  # the chains this tool is offered in; () = every chain
    input_schema: Mapping[str, Any] | None = field(default=None, repr=False)  # the origin's own schema
    # How a face shows this tool's output to a person: output -> str or a Rich renderable. None: the
    # face's own view for built-in tools, else a tidy generic one. Never called with an error.
    render: Callable[[Any], Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.arg_fields:  # built directly: every model field is a parameter of that name
            derived = tuple((info.alias or name, name) for name, info in self.args_model.model_fields.items())
            object.__setattr__(self, "arg_fields", derived)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        injected: Iterable[str] = (),
        side_effects: bool = False,
        chains: Iterable[str] = (),
    ) -> Tool:
        """Build a tool from a typed function; see the module docstring."""
        if not callable(function):
            raise ToolDefinitionError(f"@tool needs a function, got {type(function).__name__}")
        if inspect.iscoroutinefunction(function):
            raise ToolDefinitionError(f"{_qualname(function)}: async tools are not supported")
        name = name or getattr(function, "__name__", "")
        if not _NAME.match(name):
            raise ToolDefinitionError(
                f"tool name {name!r} must be 1-64 letters, digits, '_' or '-', starting with a letter or '_'")
        summary, arg_docs = _parse_docstring(inspect.getdoc(function) or "")
        description = description or summary
        if not description:
            raise ToolDefinitionError(
                f"{_qualname(function)} has no docstring; the model needs a description "
                "(write one, or pass @tool(description=...))")
        injected = tuple(injected)
        args_model, fields = _args_model(function, name, description, set(injected), arg_docs)
        return cls(name, description, args_model, function, injected, MappingProxyType({}), fields,
                   side_effects=bool(side_effects), chains=tuple(chains))

    @classmethod
    def from_schema(cls, name: str, description: str, schema: Mapping[str, Any], function: Callable[..., Any],
                    *, side_effects: bool = False, chains: Iterable[str] = ()) -> Tool:
        """A tool whose arguments are described by a JSON schema (an MCP server's, say): `function`
        gets them as keyword arguments, and the model is shown `schema` itself."""
        if not _NAME.match(name):
            raise ToolDefinitionError(f"tool name {name!r} is not a valid tool name")
        args_model = _model_from_json_schema(name, schema)
        fields = tuple((info.alias or n, n) for n, info in args_model.model_fields.items())
        return cls(name, description or name, args_model, function, (), MappingProxyType({}), fields,
                   side_effects=side_effects, chains=tuple(chains), input_schema=dict(schema))

    @classmethod
    def from_langchain(cls, lc_tool: Any) -> Tool:
        """Wrap a `langchain_core.tools.BaseTool` (one made by `as_langchain` unwraps to its origin)."""
        origin = (getattr(lc_tool, "metadata", None) or {}).get("throughline_tool")
        if isinstance(origin, Tool):
            return origin
        from langchain_core.tools import BaseTool

        if not isinstance(lc_tool, BaseTool):
            raise ToolDefinitionError(f"from_langchain needs a BaseTool, got {type(lc_tool).__name__}")
        schema = lc_tool.args_schema
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            args_model = schema
        else:  # a JSON-schema dict, or a plain Tool taking one string
            json_schema = schema if isinstance(schema, dict) else {
                "properties": lc_tool.args, "required": list(lc_tool.args)}
            args_model = _model_from_json_schema(lc_tool.name, json_schema)
        fields = tuple((info.alias or n, n) for n, info in args_model.model_fields.items())

        def call_langchain(**kwargs: Any) -> Any:
            return lc_tool.invoke(kwargs)

        if not _NAME.match(lc_tool.name):
            raise ToolDefinitionError(f"LangChain tool name {lc_tool.name!r} is not a valid tool name")
        return cls(lc_tool.name, lc_tool.description or lc_tool.name, args_model, call_langchain,
                   (), MappingProxyType({}), fields)

    def declared(self, *, side_effects: bool | None = None, chains: Iterable[str] | None = None) -> Tool:
        """A copy with its approval need or its chains declared (for a tool someone else made)."""
        return replace(self, side_effects=self.side_effects if side_effects is None else bool(side_effects),
                       chains=self.chains if chains is None else tuple(chains))

    def bind(self, **values: Any) -> Tool:
        """A copy with `values` fixed for injected parameters (e.g. `workspace=...`)."""
        unknown = sorted(set(values) - set(self.injected))
        if unknown:
            raise ToolDefinitionError(
                f"{self.name}: only injected parameters can be bound ({', '.join(self.injected) or 'none'}); "
                f"got {', '.join(unknown)}")
        return replace(self, bound=MappingProxyType({**self.bound, **values}))

    # -- calling ------------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call from Python: positional or keyword, validated; injected parameters allowed here."""
        order = self._positional_order()
        if len(args) > len(order):
            raise ToolInputError(f"{self.name}() takes {len(order)} arguments but {len(args)} were given")
        values = dict(zip(order, args))
        for key, value in kwargs.items():
            if key in values:
                raise ToolInputError(f"{self.name}() got multiple values for argument {key!r}")
            values[key] = value
        trusted = {k: values.pop(k) for k in self.injected if k in values}
        return self._run(values, trusted)

    def _positional_order(self) -> list[str]:
        wanted = [p for p, _ in self.arg_fields] + [p for p in self.injected if p not in self.bound]
        try:
            in_signature = [p for p in inspect.signature(self.function).parameters if p in wanted]
        except (TypeError, ValueError):
            return wanted
        return in_signature if len(in_signature) == len(wanted) else wanted

    def invoke(self, args: Mapping[str, Any] | str | None = None) -> ToolResult:
        """Call with model-supplied arguments (a dict or a JSON object string); never raises for
        a bad argument or a failing tool — the failure comes back as `ToolResult(ok=False)`."""
        start = time.perf_counter()
        try:
            if isinstance(args, str):
                args = json.loads(args) if args.strip() else {}
            if args is None:
                args = {}
            if not isinstance(args, Mapping):
                raise ToolInputError(f"arguments for {self.name} must be an object, got {type(args).__name__}")
            output = self._run(dict(args), {})
        except Exception as exc:  # the point of invoke: a tool failure is a result, not a crash
            return ToolResult(ok=False, error=f"{type(exc).__name__}: {exc}",
                              duration_s=time.perf_counter() - start)
        return ToolResult(ok=True, output=output, duration_s=time.perf_counter() - start)

    def _run(self, values: dict[str, Any], trusted: dict[str, Any]) -> Any:
        for key in trusted:
            if key in self.bound:
                raise ToolInputError(f"{self.name}: {key!r} is already bound")
        missing = [k for k in self.injected if k not in trusted and k not in self.bound]
        if missing:
            raise ToolInputError(
                f"{self.name} needs {', '.join(missing)} from the program; "
                f"use tool.bind({missing[0]}=...)")
        try:
            model = self.args_model.model_validate(values)
        except ValidationError as exc:
            raise ToolInputError(_validation_message(self.name, exc)) from None
        kwargs = {param: getattr(model, fname) for param, fname in self.arg_fields}
        kwargs.update(self.bound)
        kwargs.update(trusted)
        return self.function(**kwargs)

    # -- describing and interop ---------------------------------------------------------------

    def schema(self) -> dict[str, Any]:
        """JSON schema of the model-facing arguments, titled with the tool's name."""
        schema = dict(self.input_schema) if self.input_schema is not None else \
            self.args_model.model_json_schema(by_alias=True)
        schema["title"] = self.name
        schema["description"] = self.description
        return schema

    def as_langchain(self) -> Any:
        """This tool as a LangChain `StructuredTool`; failures reach the model as error text."""
        from langchain_core.tools import StructuredTool, ToolException

        def run(**kwargs: Any) -> Any:
            result = self.invoke(kwargs)
            if not result.ok:
                raise ToolException(result.error)
            return result.output

        def explain(exc: Exception) -> str:
            detail = _validation_message(self.name, exc) if isinstance(exc, ValidationError) else str(exc)
            return f"ToolInputError: {detail}"

        return StructuredTool.from_function(
            func=run, name=self.name, description=self.description, args_schema=self.args_model,
            infer_schema=False, handle_tool_error=True, handle_validation_error=explain,
            metadata={"throughline_tool": self})


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...
@overload
def tool(*, name: str | None = None, description: str | None = None, injected: Iterable[str] = (),
         side_effects: bool = False, chains: Iterable[str] = (),
         render: Callable[[Any], Any] | None = None) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(function: Callable[..., Any] | None = None, /, *, name: str | None = None,
         description: str | None = None, injected: Iterable[str] = (), side_effects: bool = False,
         chains: Iterable[str] = (), render: Callable[[Any], Any] | None = None) -> Any:
    """Make a `Tool` from a typed function: `@tool` or `@tool(name=..., injected=("workspace",))`.
    `render=` gives faces a way to show the output to a person (see `Tool.render`)."""
    injected, chains = tuple(injected), tuple(chains)

    def decorate(func: Callable[..., Any]) -> Tool:
        made = Tool.from_function(func, name=name, description=description, injected=injected,
                                  side_effects=side_effects, chains=chains)
        return replace(made, render=render) if render is not None else made

    if function is not None:
        return decorate(function)

    return decorate


# -- helpers -----------------------------------------------------------------------------------

def _qualname(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", None) or repr(function)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """First paragraph (joined into one line) and the `Args:` section's descriptions."""
    paragraphs = re.split(r"\n\s*\n", doc.strip(), maxsplit=1)
    first = paragraphs[0] if paragraphs[0].strip() not in _ARGS_HEADERS else ""
    summary = " ".join(line.strip() for line in first.splitlines()).strip()
    arg_docs: dict[str, str] = {}
    in_args, current, indent = False, None, None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in _ARGS_HEADERS:
            in_args, current, indent = True, None, None
            continue
        if not in_args or not stripped:
            continue
        lead = len(line) - len(line.lstrip())
        if lead == 0:  # the next section ("Returns:", ...)
            in_args = False
            continue
        match = _ARG_LINE.match(stripped)
        if match and (indent is None or lead == indent):
            indent, current = lead, match.group(1)
            arg_docs[current] = match.group(2).strip()
        elif current is not None:
            arg_docs[current] = f"{arg_docs[current]} {stripped}".strip()
    return summary, arg_docs


def _args_model(function: Callable[..., Any], name: str, description: str, injected: set[str],
                arg_docs: dict[str, str]) -> tuple[type[BaseModel], tuple[tuple[str, str], ...]]:
    try:
        signature = inspect.signature(function)
        hints = typing.get_type_hints(function, include_extras=True)
    except (TypeError, ValueError, NameError) as exc:
        raise ToolDefinitionError(f"{_qualname(function)}: cannot read its signature: {exc}") from None
    unknown = injected - set(signature.parameters)
    if unknown:
        raise ToolDefinitionError(f"{_qualname(function)}: injected {sorted(unknown)} are not parameters")
    definitions: dict[str, Any] = {}
    fields: list[tuple[str, str]] = []
    for index, param in enumerate(signature.parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ToolDefinitionError(
                f"{_qualname(function)}: parameter {param.name!r} must be a plain named parameter "
                "(no *args, **kwargs or positional-only)")
        if param.name in injected:
            continue
        if param.name not in hints:
            raise ToolDefinitionError(f"{_qualname(function)}: parameter {param.name!r} needs a type annotation")
        hint = hints[param.name]
        doc = arg_docs.get(param.name)
        if typing.get_origin(hint) is Annotated:
            doc = next((m for m in hint.__metadata__ if isinstance(m, str)), doc)
        default = ... if param.default is param.empty else param.default
        safe = not (param.name.startswith(("_", "model_")) or hasattr(BaseModel, param.name))
        fname = param.name if safe else f"field_{index}"
        alias = None if safe else param.name
        definitions[fname] = (hint, Field(default, description=doc, alias=alias))
        fields.append((param.name, fname))
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, populate_by_name=True)
    try:
        model = create_model(name, __config__=config, __doc__=description, **definitions)
    except Exception as exc:  # pydantic rejects the annotation; say which function
        raise ToolDefinitionError(f"{_qualname(function)}: cannot build an argument model: {exc}") from exc
    return model, tuple(fields)


def _model_from_json_schema(name: str, schema: Mapping[str, Any]) -> type[BaseModel]:
    """A lenient argument model for a JSON schema (types checked one level deep; the schema's owner
    checks the rest). Property names pydantic reserves are carried by aliases."""
    required = set(schema.get("required", ()))
    definitions: dict[str, Any] = {}
    for index, (prop, spec) in enumerate((schema.get("properties") or {}).items()):
        spec = spec if isinstance(spec, dict) else {}
        kind = _JSON_TYPES.get(spec.get("type"), Any) if isinstance(spec.get("type"), str) else Any
        default = ... if prop in required else spec.get("default")
        hint = kind if prop in required or kind is Any else kind | None
        safe = prop.isidentifier() and not (prop.startswith(("_", "model_")) or hasattr(BaseModel, prop))
        definitions[prop if safe else f"field_{index}"] = (
            hint, Field(default, description=spec.get("description"), alias=None if safe else prop))
    config = ConfigDict(extra="forbid", populate_by_name=True)
    return create_model(name, __config__=config, **definitions)


def _validation_message(name: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "arguments"
        problems.append(f"{where}: {err['msg']}")
    return f"invalid arguments for {name}: " + "; ".join(problems)
