"""Throughline's own resources over HTTP (memories, sessions, route, health), the typed event
stream, and approving generated code over HTTP under each policy."""

from __future__ import annotations

import json
import runpy
import threading
import time
from pathlib import Path

import httpx
import pytest

ScriptedChat = runpy.run_path(str(Path(__file__).with_name("scripted.py")))["ScriptedChat"]
CODE = "```python\nprint(6 * 7)\n```"


def test_memories_add_get_search_export_delete(start_server):
    url = start_server().url
    made = httpx.post(f"{url}/v1/memories", json={"text": "The Q3 revenue grew 25 percent", "metadata": {"source": "crm"}},
                      timeout=60)
    assert made.status_code == 201
    memory_id = made.json()["id"]
    got = httpx.get(f"{url}/v1/memories/{memory_id}").json()
    assert got["text"] == "The Q3 revenue grew 25 percent" and got["kind"] == "fact" and got["metadata"]["source"] == "crm"
    found = httpx.get(f"{url}/v1/memories", params={"q": "how much did revenue grow in Q3?", "k": 3}, timeout=60).json()
    assert found["data"][0]["id"] == memory_id and "score" in found["data"][0]
    exported = httpx.get(f"{url}/v1/memories/export")
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line)["id"] for line in exported.text.splitlines()] == [memory_id]
    assert httpx.delete(f"{url}/v1/memories/{memory_id}").status_code == 200
    assert httpx.get(f"{url}/v1/memories/{memory_id}").status_code == 404
    assert httpx.delete(f"{url}/v1/memories/{memory_id}").status_code == 404
    bad = httpx.post(f"{url}/v1/memories", json={"text": "x", "kind": "secret"})
    assert bad.status_code == 400 and "kind" in bad.json()["error"]["message"]


def test_sessions_list_get_with_artifacts_delete(start_server):
    url = start_server().url
    chat = {"messages": [{"role": "user", "content": "/write a two-line intro for the Q3 report"}]}
    done = httpx.post(f"{url}/v1/chat/completions", json=chat, headers={"X-Throughline-Session": "q3"}, timeout=60)
    assert done.status_code == 200
    listed = httpx.get(f"{url}/v1/sessions").json()["data"]
    assert [(s["name"], s["turns"]) for s in listed] == [("q3", 1)]
    session = httpx.get(f"{url}/v1/sessions/q3").json()
    assert session["turns"][0]["route"] == "writing"
    [artifact] = session["artifacts"]
    assert artifact["kind"] == "draft" and artifact["content"]
    assert httpx.delete(f"{url}/v1/sessions/q3").status_code == 200
    assert httpx.get(f"{url}/v1/sessions/q3").status_code == 404
    assert httpx.get(f"{url}/v1/sessions").json()["data"] == []


def test_route_and_readiness(start_server):
    url = start_server().url
    routed = httpx.post(f"{url}/v1/route", json={"text": "/code a function that reverses a string"}).json()
    assert routed["route"] == "coding" and routed["why"]
    assert httpx.get(f"{url}/readyz").json() == {"ready": True, "problems": []}


def test_readiness_reports_unreachable_memory(start_server):
    running = start_server(memory_url="http://127.0.0.1:9", ready=False)  # nothing listens there
    answer = httpx.get(f"{running.url}/readyz", timeout=30)
    assert answer.status_code == 503
    assert any("memory unreachable" in p for p in answer.json()["problems"])


def test_the_event_stream_carries_the_typed_events(start_server):
    url = start_server().url
    with httpx.stream("POST", f"{url}/v1/turns", json={"input": "/write a short note about tea"}, timeout=60) as answer:
        lines = [line for line in answer.iter_lines() if line]
    kinds = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert kinds[:2] == ["Routed", "Recalled"] and "Token" in kinds and "ArtifactSaved" in kinds
    assert kinds[-1] == "Finished" and lines[-1] == "data: [DONE]"
    finished = json.loads(lines[-2].removeprefix("data: "))
    assert finished["type"] == "Finished" and finished["route"] == "writing"


def _code_turn(url: str, results: list) -> threading.Thread:
    def run() -> None:
        body = {"stream": True, "messages": [{"role": "user", "content": "/code print six times seven"}]}
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body,
                          headers={"X-Throughline-Session": "code"}, timeout=60) as answer:
            results.extend(json.loads(line[6:]) for line in answer.iter_lines() if line.startswith("data: {"))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _pending(url: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/v1/sessions/code/approval")
        if answer.status_code == 200:
            return answer.json()
        time.sleep(0.05)
    raise AssertionError("no approval became pending")


@pytest.mark.parametrize("yes", [True, False])
def test_code_waits_for_an_answer_over_http(start_server, yes):
    url = start_server(ScriptedChat(reply=CODE)).url  # policy "ask" is the default
    results: list = []
    turn = _code_turn(url, results)
    pending = _pending(url)
    assert "print(6 * 7)" in pending["code"]
    answered = httpx.post(f"{url}/v1/sessions/code/approval", json={"approve": yes})
    assert answered.status_code == 200
    turn.join(60)
    shown = [r["throughline"]["approval"] for r in results if "approval" in r.get("throughline", {})]
    assert shown and "print(6 * 7)" in shown[0]["code"]
    text = "".join(r["choices"][0]["delta"].get("content") or "" for r in results)
    assert ("42" in text) is yes
    assert httpx.get(f"{url}/v1/sessions/code/approval").status_code == 404


def test_no_answer_in_time_is_no(start_server):
    url = start_server(ScriptedChat(reply=CODE), approval_timeout_s=0.5).url
    results: list = []
    _code_turn(url, results).join(60)
    text = "".join(r["choices"][0]["delta"].get("content") or "" for r in results)
    assert "42" not in text and results[-1]["throughline"]["route"] == "coding"


@pytest.mark.parametrize("policy, runs", [("never", False), ("auto", True)])
def test_policies_never_and_auto_do_not_ask(start_server, policy, runs):
    url = start_server(ScriptedChat(reply=CODE), approval=policy).url
    results: list = []
    _code_turn(url, results).join(60)
    assert not any("approval" in r.get("throughline", {}) for r in results)
    text = "".join(r["choices"][0]["delta"].get("content") or "" for r in results)
    assert ("42" in text) is runs
