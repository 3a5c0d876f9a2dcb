"""Many clients at once: a full queue answers 503 + Retry-After (nobody hangs), turns of one
session run in order, a client that disconnects mid-stream stops its generation."""

from __future__ import annotations

import concurrent.futures
import runpy
import time
from pathlib import Path

import httpx

ScriptedChat = runpy.run_path(str(Path(__file__).with_name("scripted.py")))["ScriptedChat"]


def _ask(url: str, text: str, session: str = "default", timeout: float = 60) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]},
                      headers={"X-Throughline-Session": session}, timeout=timeout)


def test_past_the_queue_clients_get_503_with_retry_after(start_server):
    running = start_server(ScriptedChat(delay_s=0.03, extra_words=60), parallel=1, queue=2, retry_after_s=3)

    def timed(i: int) -> tuple[httpx.Response, float]:
        t0 = time.monotonic()
        answer = _ask(running.url, f"hello number {i}", session=f"s{i}")
        return answer, time.monotonic() - t0

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(timed, range(8)))  # each returns: nobody hangs (timeout 60 s)
    statuses = sorted(answer.status_code for answer, _ in results)
    assert statuses == [200] * 3 + [503] * 5  # one generating + two queued, the rest refused at once
    refused = [took for answer, took in results if answer.status_code == 503]
    served = [took for answer, took in results if answer.status_code == 200]
    assert max(refused) < min(served)  # refused at once, not after waiting in a queue
    for answer, _ in results:
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] == "3"
            assert "busy" in answer.json()["error"]["message"]
    assert running.state.gate.in_flight == 0
    assert _ask(running.url, "after the rush").status_code == 200  # places were given back


def test_turns_of_one_session_run_one_at_a_time_in_order(start_server):
    running = start_server(ScriptedChat(delay_s=0.02, extra_words=10), parallel=4)
    gate = running.state.gate
    admitted: list[int] = []
    admit = gate.admit
    gate.admit = lambda namespace, session: (admitted.append(1), admit(namespace, session))[1]

    def send(i: int) -> int:
        deadline = time.monotonic() + 30
        while len(admitted) < i and time.monotonic() < deadline:  # arrive after the turn before
            time.sleep(0.005)
        return _ask(running.url, f"step {i} of the plan", session="ordered").status_code

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        assert list(pool.map(send, range(5))) == [200] * 5
    turns = running.state.agents.default().sessions.load("ordered").turns
    assert [t.request for t in turns] == [f"step {i} of the plan" for i in range(5)]
    assert [t.reply.split()[2] for t in turns] == ["1", "2", "3", "4", "5"]  # the model saw them in order too


def test_disconnecting_mid_stream_stops_generation(start_server):
    model = ScriptedChat(delay_s=0.05, extra_words=400)  # 20 s if left to finish
    running = start_server(model)
    body = {"stream": True, "messages": [{"role": "user", "content": "tell me a long story"}]}
    with httpx.Client(timeout=30) as client:
        with client.stream("POST", f"{running.url}/v1/chat/completions", json=body,
                           headers={"X-Throughline-Session": "story"}) as answer:
            lines = answer.iter_lines()
            seen = [line for line, _ in zip(lines, range(12)) if line.startswith("data:")]
            assert len(seen) >= 5
    # the connection is closed: generation must stop within a few words, not run to 400
    deadline = time.monotonic() + 10
    while running.state.gate.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.state.gate.in_flight == 0
    stopped_at = model.produced
    time.sleep(0.5)
    assert model.produced == stopped_at < 100
    assert running.state.agents.default().sessions.load("story").turns == []  # recorded not at all
    assert _ask(running.url, "are you still there?", session="story").status_code == 200


def test_disconnecting_a_non_streamed_request_stops_generation(start_server):
    model = ScriptedChat(delay_s=0.05, extra_words=400)
    running = start_server(model)
    try:
        _ask(running.url, "tell me a long story", session="quiet", timeout=1.0)
    except httpx.ReadTimeout:
        pass  # the client gives up and closes the connection
    deadline = time.monotonic() + 10
    while running.state.gate.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.state.gate.in_flight == 0 and model.produced < 100
    assert running.state.agents.default().sessions.load("quiet").turns == []
