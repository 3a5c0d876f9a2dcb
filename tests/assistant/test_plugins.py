"""The example plugin package, really installed (into a temporary target dir, not the venv), adds a
tool and a whole chain: `assistant tools` lists them, the chain is routable by prefix and by its
examples, and a request runs through it — all in fresh processes that see the plugin on sys.path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "throughline-example-plugin"

SCRIPT = r"""
import json, sys
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from assistant import Assistant
from assistant.events import ToolFinished, ToolStarted
from tools import default_registry

bot = Assistant(data_dir=sys.argv[1], chat_model=FakeListChatModel(responses=["I do not know that unit."]))
out = {"routes": {}, "turns": {}}
for text in ["/units 26.2 miles to km", "how many kilometres is 26.2 miles?", "Write a poem about the sea"]:
    route = bot.route(text)
    out["routes"][text] = [route.name, route.why]
for text in ["how many kilometres is 26.2 miles?", "/units 3 kg to miles", "/units 5 parsecs to km"]:
    events = list(bot.stream(text, session="p"))
    out["turns"][text] = {
        "route": events[0].route, "text": events[-1].text,
        "tools": [[e.name, e.error] for e in events if isinstance(e, ToolFinished)],
    }
result = default_registry().get("convert_units").invoke({"value": 1, "from_unit": "kg", "to_unit": "km"})
out["tool_error"] = [result.ok, result.error]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """pip-install the example plugin into a fresh directory; return it for PYTHONPATH."""
    source = tmp_path_factory.mktemp("src") / PLUGIN.name
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (target / "throughline_example").is_dir()
    return target


def run_with_plugin(plugin_path, *args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(plugin_path), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_assistant_tools_lists_the_plugins_chain_and_tool(plugin_path):
    listing = json.loads(run_with_plugin(plugin_path, "-m", "assistant.cli", "tools", "--json"))
    chains = {c["name"]: c for c in listing["chains"]}
    assert chains["units"]["prefix"] == "/units"
    assert chains["units"]["origin"] == "plugin units (throughline_example.chain:register)"
    assert "convert_units" in {t["name"] for t in listing["tools"]}
    assert listing["plugin_errors"] == []


def test_without_the_plugin_neither_is_there():
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "tools", "--json"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    listing = json.loads(done.stdout)
    assert "units" not in {c["name"] for c in listing["chains"]}
    assert "convert_units" not in {t["name"] for t in listing["tools"]}


def test_the_plugin_chain_is_routable_and_usable(plugin_path, tmp_path):
    out = json.loads(run_with_plugin(plugin_path, "-c", SCRIPT, str(tmp_path / "data")).strip().splitlines()[-1])
    assert out["routes"]["/units 26.2 miles to km"] == ["units", "prefix"]
    assert out["routes"]["how many kilometres is 26.2 miles?"] == ["units", "similarity"]  # learnt from its examples
    assert out["routes"]["Write a poem about the sea"][0] == "writing"  # the built-ins still route as before

    converted = out["turns"]["how many kilometres is 26.2 miles?"]
    assert converted == {"route": "units", "text": "26.2 miles = 42.1648 kilometres",
                         "tools": [["convert_units", None]]}
    # the tool raises for kg → miles: an error result, a sentence for the person, no crash
    failed = out["turns"]["/units 3 kg to miles"]
    assert failed["tools"] == [["convert_units", "ValueError: cannot convert mass (kg) to length (miles)"]]
    assert failed["text"] == "I could not convert that: ValueError: cannot convert mass (kg) to length (miles)"
    # a unit it does not know: the chain hands the request to the model
    assert out["turns"]["/units 5 parsecs to km"]["text"] == "I do not know that unit."
    assert out["tool_error"] == [False, "ValueError: cannot convert mass (kg) to length (km)"]


MODEL_CALLS_SCRIPT = r"""
import json, sys
from assistant import Assistant
from assistant.events import ToolFinished

bot = Assistant(data_dir=sys.argv[1], model=sys.argv[2])
events = list(bot.stream("/chat how many km is a marathon (26.2 miles)?", session="p"))
bot.close()
print(json.dumps({"tools": [[e.name, e.result, e.error] for e in events if isinstance(e, ToolFinished)],
                  "text": events[-1].text}))
"""


def test_a_capable_model_calls_the_plugins_tool_with_no_chain_code(plugin_path, tmp_path):
    """The tool alone (entry point `throughline.tools`) is enough: a model that calls tools finds it."""
    from .scripted_openai import ScriptedOpenAI, call, say

    script = [call("convert_units", value=26.2, from_unit="miles", to_unit="km"), say("About 42.2 km.")]
    with ScriptedOpenAI(script) as server:
        out = run_with_plugin(plugin_path, "-c", MODEL_CALLS_SCRIPT, str(tmp_path / "data"),
                              f"openai:scripted@{server.url}")
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {"tools": [["convert_units", 42.1648128, None]], "text": "About 42.2 km."}
    assert "convert_units" in {t["function"]["name"] for t in server.requests[0]["tools"]}
    assert server.tool_messages(1)[0]["content"] == "42.1648128"
