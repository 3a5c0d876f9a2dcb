"""Export (palette and CLI, on a session the agent really made), rename/delete/fork of sessions, the
memory browser's add/edit/filter/why, and keys and theme from config.toml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, TextArea

from assistant.chains.base import NewArtifact
from assistant.events import ToolFinished, ToolStarted
from assistant.settings import load_settings
from assistant.tui.screens.confirm import DeleteSessionScreen
from assistant.tui.screens.memory import MemoryScreen
from assistant.tui.screens.sessions import SessionsScreen
from assistant.tui.screens.text_prompt import MemoryEditScreen, TextPromptScreen
from assistant.tui.widgets.transcript import ReplyView

from .helpers import make_app, ready, scripted_chains, seed_memories, send, transcript_text, wait_for

ROOT = Path(__file__).resolve().parents[2]
CHECKS = [{"check": "not empty", "ok": True, "detail": "9 words"}]


def two_turns():
    """A writing turn with a tool call and a draft, then a chat turn: what the agent keeps of each."""
    def draft(run):
        return NewArtifact("draft", "Q3 intro", "Revenue grew 12% in Q3.")

    return scripted_chains("writing", ToolStarted("review_draft"),
                           ToolFinished("review_draft", result=CHECKS, duration_s=0.01), draft)


async def make_thread(pilot) -> None:
    await ready(pilot)
    await send(pilot, "/write the Q3 intro")
    await send(pilot, "/chat thanks, what next?")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ}, timeout=120)


@pytest.mark.asyncio
async def test_export_from_the_palette_and_the_cli_on_a_real_session():
    app, _ = make_app(["Revenue grew 12% in Q3, our best quarter yet.", "Add the chart next."], chains=two_turns())
    async with app.run_test(size=(100, 30)) as pilot:
        await make_thread(pilot)
        await pilot.press("ctrl+s")
        path = await wait_for(pilot, lambda: app.chat.last_export, what="the Markdown export")
        await app.chat.run_action("export('json')")
        json_path = await wait_for(pilot, lambda: app.chat.last_export != path and app.chat.last_export)
    markdown = path.read_text(encoding="utf-8")
    assert markdown.startswith("# default\n")
    assert "> /write the Q3 intro" not in markdown and "> the Q3 intro" in markdown  # as the agent took it
    assert "Revenue grew 12% in Q3, our best quarter yet." in markdown and "## 2. chat" in markdown
    assert "draft “Q3 intro” v1" in markdown
    exported = json.loads(json_path.read_text(encoding="utf-8"))
    kinds = [e["event"] for e in exported["turns"][0]["events"]]
    assert kinds == ["Routed", "Recalled", "ToolStarted", "ToolFinished", "ArtifactSaved", "Finished"]
    assert exported["turns"][0]["events"][3]["result"] == CHECKS
    assert exported["turns"][0]["events"][1]["budget"]["budget"] == app.backend.get().context_tokens

    # the same session through the CLI, in another process: the same documents
    out = cli("sessions", "export", "default")
    assert out.returncode == 0, out.stderr
    assert out.stdout == markdown
    out = cli("sessions", "export", "default", "--format", "json")
    assert json.loads(out.stdout) == exported
    out = cli("sessions", "list")
    assert out.stdout.startswith("default\t2 turns\t1 artifacts")
    out = cli("sessions", "export", "no-such-thread")
    assert out.returncode == 2 and "no session named 'no-such-thread'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.asyncio
async def test_fork_at_a_message_keeps_the_turns_and_artifacts_up_to_it():
    app, _ = make_app(["Revenue grew 12% in Q3.", "Next: the chart.", "Forked answer."], chains=two_turns())
    async with app.run_test(size=(100, 34)) as pilot:
        await make_thread(pilot)
        original = app.chat.session_name
        first_reply = app.chat.query(ReplyView).first()
        first_reply.focus()
        await pilot.press("f")
        await wait_for(pilot, lambda: app.chat.session_name == f"{original} fork", what="the fork to open")
        await pilot.pause()
        sessions = app.backend.get().sessions
        fork = sessions.load(f"{original} fork")
        assert [t.request for t in fork.turns] == ["the Q3 intro"]
        assert [a.title for a in fork.artifacts] == ["Q3 intro"]
        source_path = sessions.load(original).artifacts[0].path
        assert fork.artifacts[0].path != source_path and Path(fork.artifacts[0].path).read_text() == \
            Path(source_path).read_text()  # its own copy of the file
        assert "thanks, what next?" not in transcript_text(app)
        await send(pilot, "/chat go on")
        assert len(sessions.load(original).turns) == 2  # the original is untouched


@pytest.mark.asyncio
async def test_rename_and_delete_a_session_with_confirmation_memories_stay_unless_asked():
    app, _ = make_app(["Revenue grew 12% in Q3.", "Next: the chart.", "third", "fourth"], chains=two_turns())
    async with app.run_test(size=(110, 34)) as pilot:
        await make_thread(pilot)
        bot = app.backend.get()
        bot.flush()
        remembered = [m for m in bot.store.all() if m.session == "default"]
        assert remembered
        await pilot.press("f3")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and app.screen)
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("r")
        prompt = await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen) and app.screen)
        prompt.query_one(Input).value = "Q3 report"
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.row_count == 1 and table.get_row_index("Q3 report") == 0,
                       what="the renamed row")
        assert app.chat.session_name == "Q3 report" and app.sub_title == "Q3 report"
        renamed = bot.sessions.load("Q3 report")
        assert len(renamed.turns) == 2 and Path(renamed.artifacts[0].path).is_file()
        assert "Q3_report" in renamed.artifacts[0].path or "Q3" in renamed.artifacts[0].path

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteSessionScreen))
        await pilot.press("n")  # cancelled: nothing deleted
        await pilot.pause()
        assert len(bot.sessions.load("Q3 report").turns) == 2
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteSessionScreen))
        await pilot.press("y")  # delete, keep the memories
        await wait_for(pilot, lambda: table.row_count == 0, what="the list without it")
        assert bot.sessions.load("Q3 report").turns == []
        assert {m.id for m in bot.store.all() if m.session == "default"} == {m.id for m in remembered}
        assert app.chat.session_name not in (None, "Q3 report")  # the chat moved to a new thread


@pytest.mark.asyncio
async def test_memory_browser_adds_edits_filters_and_says_why_a_memory_was_recalled():
    store = seed_memories()
    app, _ = make_app(["Short it is."], store=store)
    async with app.run_test(size=(110, 34)) as pilot:
        await ready(pilot)
        await send(pilot, "/write how does Ana like her prose in every draft?")  # recalls fact-style
        recalled = app.backend.get().sessions.load("default").turns[-1].events[1]["memories"]
        assert "fact-style" in [m["id"] for m in recalled]
        await pilot.press("f4")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen) and app.screen)
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: "fact-style" in screen.memories)

        # filter: kind and session
        screen.query_one(Input).value = "kind:fact session:intro"
        screen.query_one(Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.query_text == "kind:fact session:intro")
        assert set(screen.memories) == {"fact-name", "fact-style"}
        screen.query_one(Input).value = "before:2026-05-07"
        screen.query_one(Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.query_text == "before:2026-05-07")
        assert set(screen.memories) == {"turn-q3"}
        screen.query_one(Input).value = "kind:fact"
        screen.query_one(Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.query_text == "kind:fact")

        # why: the turn that recalled it, with its score and signals
        table.focus()
        table.move_cursor(row=table.get_row_index("fact-style"))
        await pilot.press("w")
        await wait_for(pilot, lambda: "Recalled in" in str(screen.query_one("#memory-detail").content))
        detail = str(screen.query_one("#memory-detail").content)
        assert "default turn 1" in detail and "score" in detail and "found by" in detail

        # edit: new text, re-embedded (found by the new words)
        await pilot.press("e")
        editor = await wait_for(pilot, lambda: isinstance(app.screen, MemoryEditScreen) and app.screen)
        editor.query_one(TextArea).load_text("Ana prefers long, winding sentences with semicolons.")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: store.get("fact-style").text.startswith("Ana prefers long"))
        hits = store.search("winding semicolons", k=1, mode="vector")
        assert hits[0].memory.id == "fact-style"

        # add
        await pilot.press("a")
        editor = await wait_for(pilot, lambda: isinstance(app.screen, MemoryEditScreen) and app.screen)
        editor.query_one(TextArea).load_text("The Q3 report is due on Friday.")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(m.text == "The Q3 report is due on Friday." for m in store.all()))
        added = next(m for m in store.all() if m.text.startswith("The Q3 report"))
        assert added.kind == "fact" and added.metadata.get("source") == "tui"


@pytest.mark.asyncio
async def test_keys_and_theme_from_config_toml_and_the_help_lists_the_keys_in_force():
    config = Path(os.environ["ASSISTANT_CONFIG"])
    config.write_text('[assistant]\nuser = "ana"\n\n[tui]\ntheme = "nord"\n\n[tui.keys]\nnew_session = "ctrl+t"\n'
                      'copy_message = "y"\nno_such_binding = "x"\n', encoding="utf-8")
    assert load_settings().user == "ana"  # the agent's settings ignore [tui]
    app, _ = make_app(["ok"])
    async with app.run_test(size=(110, 40)) as pilot:
        await ready(pilot)
        assert app.theme == "nord"
        assert any("no_such_binding" in str(n.message) for n in app._notifications)
        first = app.chat.session_name
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: app.chat.session_name not in (None, first), what="a new session by ctrl+t")
        await pilot.press("f1")
        await pilot.pause()
        help_text = app.screen.query_one("Markdown").source
        assert "| chat | `ctrl+t` | New | `new_session` |" in help_text
        assert "| focused message | `y` | Copy | `copy_message` |" in help_text


@asynccontextmanager
async def long_thread(turns: int = 35):
    """A saved thread of `turns` short turns, opened in the app: yields (app, pilot)."""
    from assistant.sessions import SessionStore, TurnRecord
    from assistant.tui.widgets.transcript import PastReply

    settings = load_settings()
    store = SessionStore(settings.data_dir, settings.user)
    thread = store.load("long")
    thread.turns = [TurnRecord(request=f"question {i}", reply=f"answer {i}", route="chat") for i in range(turns)]
    store.save(thread)
    app, _ = make_app(["forked"], session="long")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.chat.query(PastReply))
        await pilot.pause()
        yield app, pilot


@pytest.mark.asyncio
async def test_a_long_thread_opens_with_its_last_turns_and_shows_earlier_ones_on_request():
    from assistant.tui.widgets.transcript import TURNS_PER_PAGE, TURNS_SHOWN, EarlierTurns, PastReply

    async with long_thread(35) as (app, pilot):
        assert [r.turn.request for r in app.chat.query(PastReply)][-1] == "question 34"
        drawn = len(app.chat.query(PastReply))
        assert 2 <= drawn <= TURNS_SHOWN  # enough to fill the view, not the whole thread
        marker = app.chat.query_one(EarlierTurns)
        assert marker.count == 35 - drawn and f"{35 - drawn} earlier turns" in str(marker.render())
        marker.focus(scroll_visible=False)  # tabbed to, not scrolled to (scrolling up draws turns by itself)
        await pilot.press("enter")
        assert len(app.chat.query(PastReply)) == drawn + TURNS_PER_PAGE
        await pilot.press("enter")
        assert len(app.chat.query(PastReply)) == 35 and not app.chat.query(EarlierTurns)
        assert [r.turn.request for r in app.chat.query(PastReply)] == [f"question {i}" for i in range(35)]
    # a fork from a turn drawn while earlier ones were hidden counts those too
    async with long_thread(35) as (app, pilot):
        drawn = len(app.chat.query(PastReply))
        app.chat.query(PastReply).first().focus(scroll_visible=False)
        await pilot.press("f")
        await wait_for(pilot, lambda: app.chat.session_name == "long fork")
        fork = app.backend.get().sessions.load("long fork")
        assert fork.turns[-1].request == f"question {35 - drawn}"


@pytest.mark.asyncio
async def test_scrolling_up_a_long_thread_draws_the_earlier_turns_and_keeps_the_view():
    from assistant.tui.widgets.transcript import EarlierTurns, PastReply

    async with long_thread(35) as (app, pilot):
        transcript = app.chat.transcript
        while app.chat.query(EarlierTurns):
            drawn = len(app.chat.query(PastReply))
            reading = app.chat.query(PastReply).first()  # the oldest turn drawn, which the person scrolls to
            transcript.scroll_home(animate=False)  # as the wheel or PageUp would, up to the top
            await wait_for(pilot, lambda drawn=drawn: len(app.chat.query(PastReply)) > drawn
                           and not transcript._revealing, what="earlier turns to be drawn")
            await pilot.pause()
            assert transcript.scroll_y > 0  # the view stayed on the turn being read...
            assert reading.region.overlaps(transcript.region)  # ...which is still on screen
        assert [r.turn.request for r in app.chat.query(PastReply)] == [f"question {i}" for i in range(35)]
