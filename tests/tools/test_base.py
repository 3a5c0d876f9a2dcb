"""The @tool decorator and Tool: schema from the signature, validated calls, error results,
injected parameters, and LangChain interop."""

from __future__ import annotations

import json
from typing import Annotated

import pytest

from tools import Tool, ToolDefinitionError, ToolInputError, ToolResult, tool


@tool
def add(a: int, b: int = 2) -> int:
    """Add two integers.

    Longer explanation that is not part of the description.

    Args:
        a: the first
            number.
        b (int): the second number.
    """
    return a + b


@tool(name="shout", description="Upper-case a text.")
def _shout(text: Annotated[str, "what to shout"]) -> str:
    return text.upper()


@tool
def fail(message: str) -> None:
    """Always raise."""
    raise ValueError(message)


@tool(injected=("workspace",))
def where(name: str, workspace: str) -> str:
    """Join a name onto the workspace."""
    return f"{workspace}/{name}"


def test_bare_decorator_builds_a_tool_from_signature_and_docstring():
    assert isinstance(add, Tool)
    assert add.name == "add"
    assert add.description == "Add two integers."
    assert add.function(1, 1) == 2


def test_decorator_with_arguments_sets_name_and_description():
    assert _shout.name == "shout"
    assert _shout.description == "Upper-case a text."
    assert _shout("hi") == "HI"


def test_schema_is_json_schema_with_types_defaults_and_descriptions():
    schema = add.schema()
    assert schema["title"] == "add"
    assert schema["description"] == "Add two integers."
    assert schema["type"] == "object"
    assert schema["required"] == ["a"]
    assert schema["properties"]["a"]["type"] == "integer"
    assert schema["properties"]["a"]["description"] == "the first number."
    assert schema["properties"]["b"] == {"default": 2, "description": "the second number.", "title": "B", "type": "integer"}
    assert _shout.schema()["properties"]["text"]["description"] == "what to shout"
    json.dumps(schema)  # serialisable as is


def test_calling_validates_and_coerces_arguments():
    assert add(1) == 3
    assert add(1, b=5) == 6
    assert add("4", "5") == 9  # pydantic lax mode, as a model's JSON would need
    with pytest.raises(ToolInputError, match=r"invalid arguments for add: a: Input should be a valid integer"):
        add("four")
    with pytest.raises(ToolInputError, match="takes 2 arguments but 3"):
        add(1, 2, 3)
    with pytest.raises(ToolInputError, match="multiple values for argument 'a'"):
        add(1, a=2)


def test_invoke_returns_results_and_never_raises_for_tool_failures():
    ok = add.invoke({"a": 2, "b": 3})
    assert ok == ToolResult(ok=True, output=5, error=None, duration_s=ok.duration_s)
    assert ok.duration_s >= 0

    failed = fail.invoke({"message": "boom"})
    assert failed.ok is False
    assert failed.output is None
    assert failed.error == "ValueError: boom"
    assert failed.duration_s >= 0

    bad = add.invoke({"a": "x", "c": 1})
    assert bad.ok is False
    assert bad.error.startswith("ToolInputError: invalid arguments for add:")
    assert "a: Input should be a valid integer" in bad.error
    assert "c: Extra inputs are not permitted" in bad.error

    assert add.invoke('{"a": 1}').output == 3  # a model's JSON string
    assert add.invoke("not json").error.startswith("JSONDecodeError")
    assert add.invoke([1, 2]).error == "ToolInputError: arguments for add must be an object, got list"


def test_result_as_text_is_what_a_model_reads():
    assert add.invoke({"a": 1}).as_text() == "3"
    assert _shout.invoke({"text": "a"}).as_text() == "A"
    assert fail.invoke({"message": "no"}).as_text() == "Error: ValueError: no"
    assert ToolResult(ok=True, output={"k": [1, "é"]}).as_text() == '{"k": [1, "é"]}'


def test_injected_parameters_are_hidden_from_the_model_and_bound_by_the_program():
    assert list(where.schema()["properties"]) == ["name"]
    assert where("a.txt", "/ws") == "/ws/a.txt"  # a program may pass it directly
    assert where.invoke({"name": "a"}).error == (
        "ToolInputError: where needs workspace from the program; use tool.bind(workspace=...)")
    bound = where.bind(workspace="/ws")
    smuggled = bound.invoke({"name": "a", "workspace": "/"})  # a model cannot override it
    assert not smuggled.ok and "workspace: Extra inputs are not permitted" in smuggled.error
    assert bound.invoke({"name": "b"}).output == "/ws/b"
    assert bound("c") == "/ws/c"
    with pytest.raises(ToolInputError, match="already bound"):
        bound("c", workspace="/other")
    with pytest.raises(ToolDefinitionError, match="only injected parameters can be bound"):
        where.bind(name="x")


def test_positional_calls_follow_the_signature_even_with_injected_parameters_first():
    @tool(injected=("workspace",))
    def save(workspace: str, name: str, size: int = 1) -> str:
        """Save."""
        return f"{workspace}:{name}:{size}"

    assert save("/ws", "a", 2) == "/ws:a:2"
    assert save.bind(workspace="/w")("b") == "/w:b:1"


def test_parameter_names_that_clash_with_pydantic_still_work():
    @tool
    def query(schema: str, model_name: str = "m") -> str:
        """Echo."""
        return f"{schema}/{model_name}"

    assert set(query.schema()["properties"]) == {"schema", "model_name"}
    assert query.invoke({"schema": "s"}).output == "s/m"
    assert query("s", "n") == "s/n"


@pytest.mark.parametrize(
    "source, message",
    [
        ("def f(x: int) -> int:\n    return x", "has no docstring"),
        ('def f(x) -> int:\n    """Doc."""\n    return x', "needs a type annotation"),
        ('def f(*xs: int) -> int:\n    """Doc."""\n    return 0', "plain named parameter"),
        ('def f(x: int, /) -> int:\n    """Doc."""\n    return 0', "plain named parameter"),
        ('async def f(x: int) -> int:\n    """Doc."""\n    return 0', "async tools are not supported"),
    ],
)
def test_functions_that_cannot_be_tools_are_rejected_clearly(source, message):
    namespace: dict = {}
    exec(source, namespace)
    with pytest.raises(ToolDefinitionError, match=message):
        tool(namespace["f"])


def test_bad_names_and_unknown_injected_parameters_are_rejected():
    def f(x: int) -> int:
        """Doc."""
        return x

    with pytest.raises(ToolDefinitionError, match="must be 1-64 letters"):
        tool(name="has space")(f)
    with pytest.raises(ToolDefinitionError, match="are not parameters"):
        tool(injected=("nope",))(f)


def test_as_langchain_is_a_structured_tool_that_reports_errors_as_text():
    from langchain_core.tools import BaseTool, StructuredTool

    lc = add.as_langchain()
    assert isinstance(lc, StructuredTool) and isinstance(lc, BaseTool)
    assert lc.name == "add" and lc.description == "Add two integers."
    assert lc.invoke({"a": 1, "b": 1}) == 2
    assert lc.invoke({"a": "x"}).startswith("ToolInputError: invalid arguments for add: a:")
    assert fail.as_langchain().invoke({"message": "boom"}) == "ValueError: boom"
    assert lc.tool_call_schema.model_json_schema()["properties"]["a"]["type"] == "integer"


def test_from_langchain_wraps_langchain_tools_and_round_trips_ours():
    from langchain_core.tools import Tool as LCTool
    from langchain_core.tools import tool as lc_tool

    @lc_tool
    def multiply(x: int, y: int) -> int:
        """Multiply two numbers."""
        return x * y

    wrapped = Tool.from_langchain(multiply)
    assert wrapped.name == "multiply"
    assert wrapped.description == "Multiply two numbers."
    assert wrapped.invoke({"x": 3, "y": 4}).output == 12
    assert wrapped(x=2, y=5) == 10
    assert wrapped.schema()["required"] == ["x", "y"]
    assert not wrapped.invoke({"x": 1}).ok

    simple = Tool.from_langchain(LCTool(name="echo", description="Echo it.", func=lambda s: s * 2))
    assert simple.invoke({"tool_input": "ab"}).output == "abab"

    assert Tool.from_langchain(add.as_langchain()) is add
    with pytest.raises(ToolDefinitionError):
        Tool.from_langchain(object())
