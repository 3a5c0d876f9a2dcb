"""The tool loop end to end: the real `langchain-openai` client (built from `--model openai:...@URL`,
as users get it) against a scripted OpenAI-compatible server on 127.0.0.1, real HTTP, real memory.
Nothing of ours is patched: what the "model" received is read from the server's request log."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.errors import ConfigError
from assistant.events import ApprovalNeeded, Finished, ToolFinished, ToolStarted
from assistant.settings import load_settings
from assistant.tool_loop import can_call_tools
from tools import tool

from .scripted_openai import ScriptedOpenAI, call, say

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "throughline-example-plugin" / "src"


@pytest.fixture(scope="module")
def convert_units():
    """The example plugin's tool, imported from its source tree."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        from throughline_example.units import convert_units
    finally:
        sys.path.remove(str(EXAMPLE))
    return convert_units


DELETED: list[str] = []


@tool(side_effects=True)
def delete_note(name: str) -> str:
    """Delete a note by name (changes things: the person approves each call)."""
    DELETED.append(name)
    return f"deleted {name}"


def bot_for(server: ScriptedOpenAI, tools=(), **settings) -> Assistant:
    return Assistant(settings=load_settings(model=f"openai:scripted@{server.url}", **settings), tools=tools)


def turn(bot: Assistant, text: str, approve=None) -> list:
    try:
        return list(bot.stream(text, session="t", approve=approve))
    finally:
        bot.close()


def test_the_model_calls_a_plain_typed_function_and_reads_its_result(convert_units):
    script = [call("convert_units", value=26.2, from_unit="miles", to_unit="km"), say("26.2 miles is 42.16 km.")]
    with ScriptedOpenAI(script) as server:
        events = turn(bot_for(server, tools=[convert_units]), "/chat how far is 26.2 miles in km?")
    started = [e for e in events if isinstance(e, ToolStarted)]
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert [(e.name, e.arguments) for e in started] == [
        ("convert_units", {"value": 26.2, "from_unit": "miles", "to_unit": "km"})]
    assert finished[0].error is None and finished[0].result == pytest.approx(42.1648128)
    assert events[-1] == Finished(text="26.2 miles is 42.16 km.", route="chat", timings=events[-1].timings)
    # the first request offered the tool; the second carried its result back to the model
    offered = {t["function"]["name"] for t in server.requests[0]["tools"]}
    assert "convert_units" in offered and "read_file" in offered
    assert "word_count" not in offered  # a writing tool is not offered in chat
    assert server.tool_messages(1)[0]["content"] == "42.1648128"


@pytest.mark.parametrize("how", ["declined", "approved", "allowlisted", "nobody to ask"])
def test_a_side_effecting_call_passes_the_approval_gate(how, tmp_path):
    DELETED.clear()
    if how == "allowlisted":
        Path(os.environ["ASSISTANT_CONFIG"]).write_text('[tools]\nauto_approve = ["delete_*"]\n')
    asked: list[str] = []

    def approve(code: str) -> bool:
        asked.append(code)
        return how == "approved"

    with ScriptedOpenAI([call("delete_note", name="groceries"), say("Done.")]) as server:
        events = turn(bot_for(server, tools=[delete_note]), "/chat delete my groceries note",
                      approve=None if how == "nobody to ask" else approve)
    reached_model = server.tool_messages(1)[0]["content"]
    assert isinstance(events[-1], Finished)
    if how in ("declined", "nobody to ask"):
        assert DELETED == []
        assert not any(isinstance(e, ToolStarted) for e in events)
        expected = "The user declined this call" if how == "declined" else "needs the user's approval"
        assert expected in reached_model
    else:
        assert DELETED == ["groceries"] and reached_model == "deleted groceries"
    if how in ("declined", "approved"):
        assert len(asked) == 1 and "delete_note(" in asked[0] and "name='groceries'" in asked[0]
        assert any(isinstance(e, ApprovalNeeded) for e in events)
    else:
        assert asked == [] and not any(isinstance(e, ApprovalNeeded) for e in events)


def test_the_step_limit_ends_a_model_that_calls_tools_forever(convert_units):
    forever = lambda body: call("convert_units", value=len(body["messages"]), from_unit="m", to_unit="cm")  # noqa: E731
    with ScriptedOpenAI([forever]) as server:
        events = turn(bot_for(server, tools=[convert_units], max_tool_steps=3), "/chat convert things")
    assert len(server.requests) == 3
    assert sum(isinstance(e, ToolFinished) for e in events) == 3
    assert isinstance(events[-1], Finished) and "still calling tools after 3 steps" in events[-1].text


def test_the_token_limit_ends_a_model_that_keeps_generating(convert_units):
    forever = lambda body: call("convert_units", value=len(body["messages"]), from_unit="m", to_unit="cm")  # noqa: E731
    with ScriptedOpenAI([forever]) as server:   # every reply reports 5 completion tokens (or is estimated)
        events = turn(bot_for(server, tools=[convert_units], max_tool_steps=50, tool_token_limit=12),
                      "/chat convert things")
    assert 1 <= len(server.requests) < 50
    assert sum(isinstance(e, ToolFinished) for e in events) == len(server.requests)
    assert isinstance(events[-1], Finished) and "past its limit of 12" in events[-1].text


def test_malformed_arguments_bad_values_and_unknown_tools_go_back_to_the_model(convert_units):
    three = {"tool_calls": [*call("teleport", to="mars")["tool_calls"],
                            *call("convert_units", raw_arguments="value=3, unit=kg")["tool_calls"],
                            *call("convert_units", value="lots", from_unit="kg", to_unit="g")["tool_calls"]]}
    with ScriptedOpenAI([three, call("convert_units", value=1, from_unit="kg", to_unit="km"),
                         say("I could not do it.")]) as server:
        events = turn(bot_for(server, tools=[convert_units]), "/chat convert 3 kg")
    first = {m["tool_call_id"]: m["content"] for m in server.tool_messages(1)}  # one answer per call
    assert sorted(first) == ["call_0_teleport", "call_1_convert_units", "call_2_convert_units"]
    # ... to the calls the assistant message before them made (an API rejects unanswered calls)
    [made] = [m for m in server.requests[1]["messages"] if m["role"] == "assistant"]
    assert sorted(c["id"] for c in made["tool_calls"]) == sorted(first)
    assert all(c.startswith("Error:") for c in first.values())
    assert "no tool named 'teleport'" in first["call_0_teleport"] and "convert_units" in first["call_0_teleport"]
    assert "not a JSON object" in first["call_1_convert_units"]
    assert "ToolInputError" in first["call_2_convert_units"] and "value" in first["call_2_convert_units"]
    # the tool's own exception is a result too
    assert server.tool_messages(2)[-1]["content"] == "Error: ValueError: cannot convert mass (kg) to length (km)"
    assert [e.error is not None for e in events if isinstance(e, ToolFinished)] == [True, True, True, True]
    assert isinstance(events[-1], Finished) and events[-1].text == "I could not do it."


def test_tool_calling_off_keeps_the_chain_and_offers_no_tools(convert_units):
    with ScriptedOpenAI([say("Plain answer.")]) as server:
        events = turn(bot_for(server, tools=[convert_units], tool_calling="off"), "/chat hello")
    assert "tools" not in server.requests[0]
    assert events[-1].text == "Plain answer."


def test_a_server_that_refuses_tools_gets_the_chains_instead(convert_units):
    """vLLM started without a tool parser answers HTTP 400 to any request offering tools."""
    with ScriptedOpenAI([say("Plain answer."), say("Second.")], refuse_tools=True) as server:
        bot = bot_for(server, tools=[convert_units])
        try:
            events = list(bot.stream("/chat hello", session="t"))
            again = bot.ask("/chat and again", session="t")
        finally:
            bot.close()
    notes = [e.error for e in events if isinstance(e, ToolFinished)]
    assert len(notes) == 1 and "refused the tools" in notes[0] and 'tool_calling = "off"' in notes[0]
    assert events[-1].text == "Plain answer." and again.text == "Second."
    assert ["tools" in r for r in server.requests] == [True, False, False]  # asked once, then remembered


def test_tool_calling_is_decided_by_the_models_class():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_openai import ChatOpenAI

    from assistant.local.local_chat import LocalChatModel

    openai = ChatOpenAI(model="m", api_key="x", base_url="http://127.0.0.1:9/v1")
    fake = FakeListChatModel(responses=["x"])
    assert can_call_tools(openai) and not can_call_tools(openai, "off")
    assert not can_call_tools(fake)
    assert LocalChatModel.bind_tools is FakeListChatModel.bind_tools  # the bundled model: deterministic chains
    with pytest.raises(ConfigError, match="cannot call tools"):
        can_call_tools(fake, "on")


def test_what_the_model_says_between_tool_calls_is_kept_apart(convert_units):
    first = {**call("convert_units", value=1, from_unit="km", to_unit="m"), "content": "Let me check."}
    with ScriptedOpenAI([first, say("It is 1000 m.")]) as server:
        events = turn(bot_for(server, tools=[convert_units]), "/chat how many m in a km?")
    assert events[-1].text == "Let me check.\n\nIt is 1000 m."


def test_the_draft_a_tool_using_model_writes_is_saved():
    with ScriptedOpenAI([say("Waves fold on the shore.")]) as server:
        bot = bot_for(server)
        reply = bot.ask("/write a haiku about the sea", session="w")
        bot.close()
    assert [a.kind for a in reply.artifacts] == ["draft"]
    assert json.dumps(server.requests[0]["tools"]).count("word_count") == 1  # writing tools are offered here
