"""The official `openai` client against `assistant serve` on 127.0.0.1: the agent behind an
OpenAI-compatible endpoint, with Throughline's `throughline` object beside the standard fields."""

from __future__ import annotations

import openai
import pytest


@pytest.fixture
def client(start_server):
    running = start_server()
    return openai.OpenAI(base_url=f"{running.url}/v1", api_key="unused", max_retries=0), running


def test_non_streamed_reply_carries_the_turn(client):
    api, running = client
    done = api.chat.completions.create(
        model="throughline", messages=[{"role": "user", "content": "My favourite colour is teal."}],
        extra_headers={"X-Throughline-Session": "colours"},
    )
    assert done.choices[0].message.content.startswith("Scripted reply 1 about:")
    extra = done.model_extra["throughline"]
    assert extra["route"] in ("chat", "writing", "coding", "analysis")
    assert extra["session"] == "colours"
    assert set(extra["timings"]) >= {"recall_ms", "route_ms", "first_token_ms", "total_ms"}


def test_second_request_recalls_the_first_streamed(client):
    api, running = client
    api.chat.completions.create(
        model="throughline", messages=[{"role": "user", "content": "My favourite colour is teal."}],
        extra_headers={"X-Throughline-Session": "colours"},
    )
    chunks = list(api.chat.completions.create(
        model="throughline", stream=True, messages=[{"role": "user", "content": "What is my favourite colour?"}],
        extra_headers={"X-Throughline-Session": "colours"},
    ))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Scripted reply 2 about:")
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    extra = last.model_extra["throughline"]
    assert any("teal" in m["text"] for m in extra["recalled"]), extra["recalled"]
    assert {"id", "text", "kind", "score"} <= set(extra["recalled"][0])
    assert all("throughline" not in (c.model_extra or {}) for c in chunks[:-1])  # only in the last chunk


def test_the_session_header_keeps_threads_apart(client):
    api, running = client
    for session in ("a", "b", "a"):
        api.chat.completions.create(model="throughline", messages=[{"role": "user", "content": f"hello from {session}"}],
                                    extra_headers={"X-Throughline-Session": session})
    bot = running.state.agents.default()
    assert len(bot.sessions.load("a").turns) == 2
    assert len(bot.sessions.load("b").turns) == 1
    assert len(bot.sessions.load("default").turns) == 0


def test_models_are_listed(client):
    api, _ = client
    assert [m.id for m in api.models.list().data] == ["throughline"]
