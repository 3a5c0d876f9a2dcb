"""Leaving the TUI while a turn is stuck in the model ends the process without losing the
memory writes still pending or the session summaries: they are kept on disk and stored at the
next start (issue #14). Run in a real subprocess, since the process really ends with os._exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent('''
    import sys, threading, time
    from pathlib import Path
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from assistant import Assistant
    from assistant.settings import load_settings
    from assistant.tui.app import leave
    from assistant.tui.backend import Backend

    STUCK, NEVER = threading.Event(), threading.Event()

    class Model(FakeListChatModel):
        def _stream(self, *args, **kwargs):
            if STUCK.is_set():
                NEVER.wait()  # one long model step that never returns
            yield from super()._stream(*args, **kwargs)

    settings = load_settings(data_dir=sys.argv[1])
    bot = Assistant(settings=settings, chat_model=Model(responses=["Nice to meet you, Ana.", "Lima."]))
    store = bot._memory()
    write = store.add_many

    writes = []

    def slow_disk(batch):  # the background writer's second write never finishes before the exit
        if threading.current_thread().name.startswith("throughline-remember"):
            writes.append(batch)
            if len(writes) == 2:
                time.sleep(600)
        return write(batch)

    store.add_many = slow_disk
    bot.ask("What is the capital of Peru?", session="intro")
    bot.ask("Hi! My name is Ana and I prefer short sentences.", session="intro")
    backend = Backend(settings, lambda s, p: bot, lambda *a: None)
    backend.get()
    STUCK.set()
    turn = threading.Thread(target=lambda: bot.ask("and now?", session="intro"), daemon=True)
    turn.start()
    time.sleep(0.3)
    print("leaving", flush=True)
    leave(backend, {turn}, 0, fast_exit=True)
    print("not reached", flush=True)
''')


def test_leaving_while_a_turn_is_stuck_loses_no_memory(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(data)], capture_output=True, text=True,
                          timeout=240, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "leaving" in done.stdout and "not reached" not in done.stdout
    assert time.monotonic() - started < 200

    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from assistant import Assistant

    again = Assistant(data_dir=data, chat_model=FakeListChatModel(responses=["ok"]))
    store = again.store  # opening it stores what the last run left
    turns = [m.text for m in store.all(kind="turn")]
    assert any("My name is Ana" in t for t in turns)
    assert any("Ana" in m.text for m in store.all(kind="fact"))
    assert [m.session for m in store.all(kind="summary")] == ["intro"]
    assert not list((data / "pending").rglob("*.jsonl"))  # nothing left to recover
    again.close()
