"""`ask`'s resident agent through real processes: the `assistant` command, the agent it starts,
the Unix socket between them, and a model served over real HTTP on 127.0.0.1 (or the bundled one).

Every agent a test starts is stopped (SIGTERM) and waited for at the end of the test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest

from assistant.events import (
    ApprovalNeeded, Artifact, ArtifactSaved, ContextBudget, Failed, Finished, Recalled, RecalledMemory, Routed,
    Timings, Token, ToolFinished, ToolStarted, event_from_record, event_record,
)
from assistant.errors import ResidentAgentLost
from assistant.resident.wire import Wire
from tests.assistant.scripted_openai import ScriptedOpenAI, say
from tests.assistant.test_cli import run_cli


def _alive(pid: int) -> bool:
    from assistant.resident.client import exited

    return not exited(pid)


def _until(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Agents:
    """The resident agents of one test: its own runtime dir, and a look at each agent."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tl-rt-"))  # short: AF_UNIX paths stop at 107 bytes
        self.env = {"ASSISTANT_KEEP_ALIVE": "120", "ASSISTANT_RUNTIME_DIR": str(self.dir)}
        self.pids: set[int] = set()

    def sockets(self) -> list[Path]:
        return sorted(self.dir.glob("*.sock"))

    def status(self, path: Path | None = None) -> dict:
        path = path or self.only()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))
        wire = Wire(sock)
        try:
            wire.send(status=True)
            status = wire.receive()["status"]
        finally:
            wire.close()
        self.pids.add(status["pid"])
        return status

    def only(self) -> Path:
        found = self.sockets()
        assert len(found) == 1, found
        return found[0]

    def stop_all(self) -> None:
        from assistant.resident.client import running_agents

        self.pids |= {agent["pid"] for agent in running_agents(stop=True, environ={"ASSISTANT_RUNTIME_DIR": str(self.dir)})}
        for pid in self.pids:
            _until(lambda: not _alive(pid), what=f"agent {pid} to exit")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def agents():
    found = Agents()
    yield found
    found.stop_all()


def _scripted_env(server: ScriptedOpenAI, agents: Agents, **extra: str) -> dict:
    return {**agents.env, "ASSISTANT_MODEL": f"openai:scripted@{server.url}", "ASSISTANT_TOOL_CALLING": "off", **extra}


def _prompt_text(body: dict) -> str:
    return "\n".join(str(m.get("content")) for m in body["messages"])


def test_the_second_ask_is_answered_by_the_agent_the_first_started_and_remembers_it(agents):
    with ScriptedOpenAI([lambda body: say("Noted.")]) as server:
        env = _scripted_env(server, agents)
        code, out, err = run_cli("ask", "/chat My cat is called Mittens.", env=env)
        assert code == 0, err
        assert "Noted." in out
        assert "starting the resident agent" in err
        first = agents.status()
        assert first["turns"] == 1 and first["ready"]

        code, out, err = run_cli("ask", "--json", "--session", "later", "/chat What is my cat called?", env=env)
        assert code == 0, err
        assert "starting the resident agent" not in err and "loading" not in err  # it was loaded already
        second = agents.status()
        assert second["pid"] == first["pid"] and second["turns"] == 2
        reply = json.loads(out)
        assert set(reply) == {"route", "text", "recalled", "artifacts", "timings"}
        assert reply["route"] == "chat" and reply["text"] == "Noted."
        assert any("Mittens" in m["text"] for m in reply["recalled"]), reply["recalled"]
        assert "Mittens" in _prompt_text(server.requests[-1])  # recalled into the model's prompt


def test_a_stopped_agent_has_written_everything_and_a_process_without_one_recalls_it(agents):
    with ScriptedOpenAI([lambda body: say("Noted.")]) as server:
        env = _scripted_env(server, agents)
        assert run_cli("ask", "--session", "pets", "/chat My dog is called Biscuit.", env=env)[0] == 0
        assert run_cli("ask", "--session", "pets", "/chat He is three years old.", env=env)[0] == 0
        pid = agents.status()["pid"]
        os.kill(pid, signal.SIGTERM)  # it closes the store: pending writes, then the sessions' summaries
        _until(lambda: not _alive(pid), what="the agent to exit")
        assert agents.sockets() == [] and list(agents.dir.glob("*.log")) == []  # a clean leave: socket and log gone
        code, out, err = run_cli("memory", "search", "--json", "--kind", "summary", "pets Biscuit")
        assert code == 0, err
        assert any("Session 'pets'" in json.loads(line)["text"] for line in out.splitlines()), out

        code, out, err = run_cli("ask", "--json", "/chat What is my dog called?", env={**env, "ASSISTANT_KEEP_ALIVE": "0"})
        assert code == 0, err
        assert any("Biscuit" in m["text"] for m in json.loads(out)["recalled"])
        assert agents.sockets() == []  # keep_alive = 0: this ask started no agent


def test_an_idle_agent_leaves_and_a_killed_one_is_replaced(agents):
    with ScriptedOpenAI([lambda body: say("Hi.")]) as server:
        env = _scripted_env(server, agents, ASSISTANT_KEEP_ALIVE="1")
        assert run_cli("ask", "/chat hello", env=env)[0] == 0
        idle = agents.status()["pid"]
        _until(lambda: not _alive(idle), what="the idle agent to leave")
        assert agents.sockets() == []

        env["ASSISTANT_KEEP_ALIVE"] = "120"
        assert run_cli("ask", "/chat hello", env=env)[0] == 0
        killed = agents.status()["pid"]
        os.kill(killed, signal.SIGKILL)  # no chance to remove its socket
        _until(lambda: not _alive(killed), what="the killed agent to die")
        assert len(agents.sockets()) == 1  # stale

        code, out, err = run_cli("ask", "/chat hello again", env=env)
        assert code == 0, err
        assert "Hi." in out
        replaced = agents.status()["pid"]
        assert replaced not in (idle, killed)

        code, out, err = run_cli("agents", "--json", env=env)
        assert code == 0, err
        listed = [json.loads(line) for line in out.splitlines()]
        assert [(a["pid"], a["turns"], a["model"]) for a in listed] == [(replaced, 1, f"openai:scripted@{server.url}")]
        code, out, err = run_cli("agents", "--stop", env=env)
        assert code == 0 and str(replaced) in out, err
        _until(lambda: not _alive(replaced), what="the stopped agent to exit")
        assert run_cli("agents", env=env)[2].strip() == "no resident agent is running"


def test_asks_with_other_settings_get_their_own_agent(agents, tmp_path):
    with ScriptedOpenAI([lambda body: say("Hi.")]) as server:
        env = _scripted_env(server, agents)
        assert run_cli("ask", "/chat hello", env=env)[0] == 0
        assert run_cli("ask", "/chat hello", env={**env, "ASSISTANT_AUTO_RUN": "1"})[0] == 0  # per turn, same agent
        assert len(agents.sockets()) == 1
        assert run_cli("--user=-dash", "ask", "/chat hello", env={**env, "ASSISTANT_MAX_NEW_TOKENS": "99"})[0] == 0
        assert len(agents.sockets()) == 2
        assert sorted((agents.status(p)["turns"], agents.status(p)["user"]) for p in agents.sockets()) == [
            (1, "-dash"), (2, "default")]

        for name in ("a", "b"):  # `--data-dir data` means another dir in another directory
            (tmp_path / name).mkdir()
            assert run_cli("--data-dir", "data", "ask", "/chat hello", env=env, cwd=tmp_path / name)[0] == 0
            assert (tmp_path / name / "data" / "sessions").is_dir()
        assert len(agents.sockets()) == 4


def test_code_is_approved_by_the_asking_process_or_auto_run_or_nobody(agents, monkeypatch):
    from assistant.resident.client import connect
    from assistant.settings import load_settings

    code_reply = say("```python\nprint(6 * 7)\n```")
    with ScriptedOpenAI([lambda body: code_reply]) as server:
        for name, value in _scripted_env(server, agents).items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        asked: list[str] = []

        def turn(approval: str, answer: bool) -> list:
            def approver(code: str) -> bool:
                asked.append(code)
                return answer
            connection = connect(settings, lambda stage, fraction: None)
            return list(connection.turn("/code print six times seven", "s", approval=approval, approver=approver,
                                        cwd=os.getcwd(), progress=lambda *a: None, warn=lambda m: None))

        declined = turn("ask", False)
        assert asked and "print(6 * 7)" in asked[0]  # asked here, across the socket
        assert any(isinstance(e, ApprovalNeeded) for e in declined)
        assert not any(isinstance(e, ToolFinished) and "42" in str(e.result) for e in declined)

        asked.clear()
        approved = turn("ask", True)
        assert asked
        assert any(isinstance(e, ToolFinished) and "42" in str(e.result) for e in approved), approved

        asked.clear()
        automatic = turn("auto", False)
        assert not asked  # --auto-run: nobody is asked
        assert any(isinstance(e, ToolFinished) and "42" in str(e.result) for e in automatic)

        nobody = turn("none", True)
        assert not asked
        finished = [e for e in nobody if isinstance(e, Finished)][0]
        assert "--auto-run" in finished.text  # it says how to run it, as `ask` without a terminal does


def test_auto_run_is_the_asking_process_choice_and_runs_the_code_in_the_shared_agent(agents):
    with ScriptedOpenAI([lambda body: say("```python\nprint(6 * 7)\n```")]) as server:
        env = _scripted_env(server, agents)
        code, out, err = run_cli("ask", "/code print six times seven", input=b"", env=env)  # no terminal, no flag
        assert code == 0, err
        assert "--auto-run" in out and "42" not in out
        code, out, err = run_cli("--auto-run", "ask", "/code print six times seven", env=env)
        assert code == 0, err
        assert "42" in out
        assert len(agents.sockets()) == 1 and agents.status()["turns"] == 2


def test_two_first_asks_at_once_start_one_agent(agents):
    import threading

    with ScriptedOpenAI([lambda body: say("Hi.")]) as server:
        env = _scripted_env(server, agents)
        results: list = []
        threads = [threading.Thread(target=lambda: results.append(run_cli("ask", "/chat hello", env=env)))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r[0] for r in results] == [0, 0], results
        assert len(agents.sockets()) == 1 and agents.status()["turns"] == 2


def test_a_model_server_fault_through_the_agent_is_the_same_one_line_error(agents):
    env = {**agents.env, "ASSISTANT_MODEL": "openai:x@http://127.0.0.1:9/v1", "ASSISTANT_CONNECT_TIMEOUT": "2"}
    code, _, err = run_cli("ask", "hello", env=env)
    assert code == 4, err  # ModelServerUnreachable's code, as in the asking process
    lines = [line for line in err.splitlines() if line.startswith("assistant:")]
    assert len(lines) == 1 and "127.0.0.1:9" in lines[0] and "Traceback" not in err, err


def test_stopping_the_agent_while_code_waits_for_a_yes_declines_it_and_the_agent_leaves(agents, monkeypatch):
    from assistant.resident.client import connect, running_agents
    from assistant.settings import load_settings

    with ScriptedOpenAI([lambda body: say("```python\nprint(6 * 7)\n```")]) as server:
        for name, value in _scripted_env(server, agents).items():
            monkeypatch.setenv(name, value)

        def approver(code: str) -> bool:  # the person is slow; meanwhile someone stops the agent
            stopped.extend(running_agents(stop=True))
            # It leaves only once the turn is over, which takes a no: this yes comes too late.
            _until(lambda: not _alive(stopped[0]["pid"]), what="the agent to decline and leave")
            return True

        stopped: list = []
        events = list(connect(load_settings(), lambda *a: None).turn(
            "/code print six times seven", "s", approval="ask", approver=approver, cwd=os.getcwd(),
            progress=lambda *a: None, warn=lambda m: None))
        assert stopped and stopped[0]["stopping"]
        assert not any(isinstance(e, ToolFinished) and "42" in str(e.result) for e in events)  # a no: not run
        assert any(isinstance(e, Finished) for e in events)  # the turn's events were all read after the late yes


def test_relative_paths_are_read_from_the_asking_process_directory(agents, tmp_path):
    here = tmp_path / "project"
    here.mkdir()
    (here / "prices.csv").write_text("item,price\napple,3\npear,5\nfig,10\n")
    with ScriptedOpenAI([lambda body: say("The average price is 6.")]) as server:
        env = _scripted_env(server, agents, ASSISTANT_AUTO_RUN="1")
        code, out, err = run_cli("ask", "--json", "/analyze What is the average price in prices.csv?", env=env, cwd=here)
        assert code == 0, err
        reply = json.loads(out)
        assert "not found" not in reply["text"], reply["text"]
        assert "6" in reply["text"]


def test_an_ask_that_goes_away_mid_turn_leaves_no_turn_and_the_agent_answers_the_next(agents, monkeypatch):
    from assistant.resident.client import connect
    from assistant.settings import load_settings

    def slow(body: dict) -> dict:
        if "slow please" in _prompt_text(body):
            time.sleep(1.5)
        return say("Done.")

    with ScriptedOpenAI([slow]) as server:
        for name, value in _scripted_env(server, agents).items():
            monkeypatch.setenv(name, value)
        settings = load_settings()

        def turn(text: str):
            return connect(settings, lambda *a: None).turn(text, "gone", approval="none", approver=None,
                                                           cwd=os.getcwd(), progress=lambda *a: None, warn=lambda m: None)

        events = turn("/chat slow please")
        assert isinstance(next(events), Routed)
        events.close()  # the asking process is gone

        answered = list(turn("/chat are you there?"))
        assert [e.text for e in answered if isinstance(e, Finished)] == ["Done."]
        assert agents.status()["turns"] == 1
        code, out, err = run_cli("sessions", "export", "gone")
        assert code == 0, err
        assert "slow please" not in out and "are you there" in out

        events = turn("/chat slow please")  # and an agent killed mid-turn is an error that says so
        assert isinstance(next(events), Routed)
        os.kill(agents.status()["pid"], signal.SIGKILL)
        with pytest.raises(ResidentAgentLost, match="stopped during the turn"):
            list(events)


def test_a_store_that_cannot_open_fails_each_turn_until_it_is_fixed(agents, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "memory").write_text("not a dir")  # the store cannot open: found by the agent
    with ScriptedOpenAI([lambda body: say("Hi.")]) as server:
        env = _scripted_env(server, agents, ASSISTANT_DATA_DIR=str(data))
        for _ in range(2):
            code, _, err = run_cli("ask", "/chat hello", env=env)
            assert code == 3, err  # MemoryFailure's code, through the agent
            assert "is a file, not a directory" in err and "Traceback" not in err
        pid = agents.status()["pid"]
        (data / "memory").unlink()
        code, out, err = run_cli("ask", "/chat hello", env=env)
        assert code == 0 and "Hi." in out, err
        assert "warning" not in err  # the warm-up's failure was the first turn's to tell, and it did
        assert agents.status()["pid"] == pid


def test_an_agent_that_cannot_be_built_says_why_and_leaves(agents, tmp_path):
    (tmp_path / "afile").touch()
    env = {**agents.env, "ASSISTANT_DATA_DIR": str(tmp_path / "afile" / "data")}
    code, _, err = run_cli("ask", "/chat hello", env=env)
    assert code == 3 and "cannot create the data dir" in err and "Traceback" not in err, err
    _until(lambda: agents.sockets() == [], what="the broken agent to leave")  # the next ask starts afresh


@pytest.mark.model
def test_the_bundled_model_answers_through_the_agent(agents):
    code, out, err = run_cli("ask", "--json", "/chat Say hello in one short sentence.", env=agents.env)
    assert code == 0, err
    code, out, err = run_cli("ask", "--json", "/chat Say goodbye in one short sentence.", env=agents.env)
    assert code == 0, err
    reply = json.loads(out)
    assert reply["timings"]["tokens"] > 0 and reply["text"].strip()
    assert agents.status()["turns"] == 2


def test_every_event_survives_the_trip_between_processes():
    memory = RecalledMemory(id="m1", text="Alice likes tea", kind="fact", score=0.5, session="s", why="vector")
    events = [
        Routed(route="chat", score=0.9, why="prefix"),
        Recalled(memories=(memory,), budget=ContextBudget(budget=1200, memories=40, items=(("memory", "m1", 40),))),
        Token(text="Hi"),
        ToolStarted(name="run_python", arguments={"code": "print(1)"}),
        ToolFinished(name="run_python", result={"stdout": "1\n"}, duration_s=0.2),
        ApprovalNeeded(code="print(1)", sandbox="kernel"),
        ArtifactSaved(artifact=Artifact(id="a1", kind="code", title="t", route="coding", path="/x.py")),
        Finished(text="Hi", route="chat", timings=Timings(total_ms=12.5, tokens=3, decode_tokens_per_s=30.0)),
        Failed(message="boom", error="ModelError", exit_code=4),
    ]
    for event in events:
        assert event_from_record(json.loads(json.dumps(event_record(event)))) == event
    with pytest.raises(ValueError):
        event_from_record({"event": "Nonsense"})


def test_the_key_names_what_changes_an_answer_and_nothing_else(tmp_path, monkeypatch):
    from dataclasses import replace

    from assistant.resident.place import agent_key, anchored
    from assistant.settings import load_settings

    monkeypatch.chdir(tmp_path)
    settings, env = anchored(load_settings(data_dir="data"), os.environ)
    assert settings.data_dir == tmp_path / "data"
    key = agent_key(settings, env)
    assert agent_key(replace(settings, auto_run=True, keep_alive=5.0), {**env, "ASSISTANT_KEEP_ALIVE": "5"}) == key
    assert agent_key(replace(settings, max_new_tokens=99), env) != key
    assert agent_key(settings, {**env, "ASSISTANT_CPU_CAPABILITY": "avx512"}) != key
    assert agent_key(settings, {**env, "OPENAI_API_KEY": "sk-other"}) != key
    config = Path(env["ASSISTANT_CONFIG"])
    config.write_text("[assistant]\nrecall_k = 64\n")  # the same settings, but the file changed
    assert agent_key(settings, env) != key


def test_without_a_usable_runtime_dir_ask_says_so_and_answers_itself(tmp_path):
    shared = Path(tempfile.mkdtemp(prefix="tl-shared-"))
    shared.chmod(0o777)  # others could reach a socket here: refused, not chmodded
    long_name = tmp_path / ("x" * 80)  # too long for a socket path: refused, not replaced by another dir
    try:
        with ScriptedOpenAI([lambda body: say("Hi.")]) as server:
            for named, needle in ((shared, "can be entered by other users"), (long_name, "too long for a socket path")):
                env = {"ASSISTANT_KEEP_ALIVE": "60", "ASSISTANT_RUNTIME_DIR": str(named),
                       "ASSISTANT_MODEL": f"openai:scripted@{server.url}", "ASSISTANT_TOOL_CALLING": "off"}
                code, out, err = run_cli("ask", "/chat hello", env=env)
                assert code == 0 and "Hi." in out, err
                assert needle in err and "answering in this process" in err, err
                assert "starting the resident agent" not in err
        assert list(shared.iterdir()) == [] and (shared.stat().st_mode & 0o777) == 0o777
    finally:
        shutil.rmtree(shared, ignore_errors=True)
