"""A session's saved form is `asdict`'s, made without its deep copy: a turn's events are kept as
JSON-ready records already, and copying them again on every save cost ~40 ms a turn for a thread
whose turns each recalled 64 memories."""

from __future__ import annotations

import json
from dataclasses import asdict

from assistant.events import Artifact, Recalled, RecalledMemory, Routed, event_record
from assistant.sessions import Session, SessionStore, TurnRecord, session_record


def _session() -> Session:
    session = Session(name="q3", user="alice", current_route="writing")
    for n in range(3):
        recalled = Recalled(memories=tuple(RecalledMemory(id=f"m{n}-{i}", text=f"note {i} «é»", kind="turn", score=0.5,
                                                          session="old", why="found by vector")
                                           for i in range(64)))
        events = [event_record(Routed(route="writing", score=0.9, why="similarity")), event_record(recalled)]
        session.turns.append(TurnRecord(request=f"draft {n}", reply="ok", route="writing", memory_id=f"t{n}",
                                        events=events))
    session.artifacts.append(Artifact(id="a1", kind="draft", title="Intro", route="writing", path="/tmp/x.md",
                                      content="Hello", created_at="2026-12-01T00:00:00+00:00", version=2))
    return session


def test_the_record_is_asdicts_without_copying_the_events():
    session = _session()
    record = session_record(session)
    assert json.dumps(record, ensure_ascii=False) == json.dumps(asdict(session), ensure_ascii=False)
    assert record["turns"][2]["events"] is session.turns[2].events   # kept as they are, not copied


def test_a_saved_session_loads_as_it_was(tmp_path):
    store = SessionStore(tmp_path, "alice")
    session = _session()
    store.save(session)
    assert store.load("q3") == session


def test_event_records_are_what_asdict_and_json_made():
    from datetime import datetime
    from pathlib import Path

    from assistant.events import ArtifactSaved, ContextBudget, Finished, Timings, ToolFinished, ToolStarted
    from tools import RunResult

    events = [
        Recalled(
            memories=(RecalledMemory(id="m", text="t", kind="fact", score=0.3),),
            budget=ContextBudget(budget=1200, memories=10, items=(("memory", "m", 10),))),
        ToolStarted("run_python", {"code": "print(1)", "path": Path("/tmp/a"), "when": datetime(2026, 1, 2)}),
        ToolFinished("run_python", result=RunResult(stdout="2\n", stderr="", exit_code=0, timed_out=False,
                                                    duration_s=0.1, files=[Path("/tmp/out.png")])),
        ArtifactSaved(Artifact(id="a", kind="code", title="t", route="coding", content="print(1)")),
        Finished(text="done", route="chat", timings=Timings(recall_ms=1.0, route_ms=2.0)),
    ]
    for event in events:
        data = asdict(event)
        if isinstance(event, ArtifactSaved):
            data["artifact"].pop("content")
        expected = {"event": type(event).__name__, **json.loads(json.dumps(data, ensure_ascii=False, default=str))}
        assert event_record(event) == expected
