"""Several replicas behind a load balancer: one real `chroma run` server holds memory and the
sessions, so a thread moves between replicas; `kill -9` of one mid-turn loses nothing it
acknowledged and the other keeps serving."""

from __future__ import annotations

import threading

import httpx
import pytest

pytestmark = pytest.mark.server


def _turn(url: str, text: str, session: str = "thread") -> dict:
    answer = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]},
                        headers={"X-Throughline-Session": session}, timeout=120)
    assert answer.status_code == 200, answer.text
    return answer.json()["throughline"]


def _session(url: str, name: str = "thread") -> dict:
    answer = httpx.get(f"{url}/v1/sessions/{name}", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_thread_moves_between_replicas_and_survives_kill_9(replicas):
    started = replicas({"a": {"delay": 0.05, "long_words": 400}, "b": {}})
    (proc_a, a), (_, b) = started["a"], started["b"]

    _turn(a, "My favourite colour is teal.")
    drafted = _turn(b, "/write a two-line intro for the teal report")
    assert drafted["artifacts"], drafted
    draft = drafted["artifacts"][0]
    back = _turn(a, "What is my favourite colour?")
    assert any("teal" in m["text"] for m in back["recalled"])

    # replica a sees the thread b added to, with b's draft (its body written into a's workspace)
    thread = _session(a)
    assert [t["request"] for t in thread["turns"]] == [
        "My favourite colour is teal.", "a two-line intro for the teal report", "What is my favourite colour?"]
    [seen] = [x for x in thread["artifacts"] if x["id"] == draft["id"]]
    assert "/a/" in seen["path"] and open(seen["path"], encoding="utf-8").read() == seen["content"]

    # kill -9 replica a in the middle of a streamed turn
    started = threading.Event()

    def stream_and_die() -> None:
        body = {"stream": True, "messages": [{"role": "user", "content": "tell me a long story about teal"}]}
        try:
            with httpx.stream("POST", f"{a}/v1/chat/completions", json=body,
                              headers={"X-Throughline-Session": "thread"}, timeout=60) as answer:
                for line in answer.iter_lines():
                    if "content" in line:
                        started.set()
        except httpx.HTTPError:
            pass  # the replica died under us

    client = threading.Thread(target=stream_and_die)
    client.start()
    assert started.wait(60)
    proc_a.kill()  # SIGKILL
    proc_a.wait(timeout=30)
    client.join(timeout=60)

    # b keeps serving the thread; every acknowledged turn is in memory, the killed one nowhere
    after = _session(b)
    assert len(after["turns"]) == 3
    for turn in after["turns"]:
        assert httpx.get(f"{b}/v1/memories/{turn['memory_id']}", timeout=30).status_code == 200
    again = _turn(b, "What is my favourite colour again?")
    assert any("teal" in m["text"] for m in again["recalled"])
    assert len(_session(b)["turns"]) == 4


def test_concurrent_saves_from_two_replicas_keep_both_turns(chroma_server, tmp_path):
    from assistant.sessions import TurnRecord
    from assistant.shared_sessions import SharedSessionStore

    one = SharedSessionStore(tmp_path / "one", "merge-user", chroma_server)
    two = SharedSessionStore(tmp_path / "two", "merge-user", chroma_server)
    first, second = one.load("t"), two.load("t")  # both read the empty thread
    first.turns.append(TurnRecord(request="from one", reply="r1", route="chat", memory_id="m1"))
    second.turns.append(TurnRecord(request="from two", reply="r2", route="chat", memory_id="m2"))
    one.save(first)
    two.save(second)  # written without having seen one's turn
    assert sorted(t.request for t in one.load("t").turns) == ["from one", "from two"]
    assert [s.name for s in two.list()] == ["t"]
    assert one.delete("t") and one.load("t").turns == [] and not two.delete("t")
