"""Sessions (switch and the context comes back) and the memory browser (search, details, forget)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from assistant.sessions import SessionStore, TurnRecord
from assistant.settings import load_settings
from assistant.tui.screens.confirm import ConfirmScreen
from assistant.tui.screens.memory import MemoryScreen
from assistant.tui.screens.sessions import SessionsScreen

from .helpers import make_app, ready, seed_memories, send, transcript_text, wait_for


def seed_sessions(monkeypatch) -> SessionStore:
    import assistant.sessions

    clock = iter(f"2026-05-0{day}T10:00:00+00:00" for day in range(1, 10))
    with monkeypatch.context() as patch:
        patch.setattr(assistant.sessions, "now_iso", lambda: next(clock))
        return _seed()


def _seed() -> SessionStore:
    settings = load_settings()
    store = SessionStore(settings.data_dir, settings.user)
    alpha = store.load("alpha")
    alpha.turns.append(TurnRecord(request="Draft a note about the lighthouse", reply="The lighthouse stands tall.", route="writing"))
    store.save_artifact(alpha, kind="draft", title="lighthouse note", route="writing", content="The lighthouse stands tall.")
    alpha.current_route = "writing"
    store.save(alpha)
    beta = store.load("beta")
    beta.turns.append(TurnRecord(request="What is a closure?", reply="A function with its scope.", route="coding"))
    store.save(beta)  # saved last: the most recent session, opened at start
    return store


@pytest.mark.asyncio
async def test_switching_sessions_brings_back_the_transcript_and_the_context(monkeypatch):
    seed_sessions(monkeypatch)
    app, model = make_app(["The keeper's lamp is in the draft."])
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        assert app.chat.session_name == "beta"  # the most recent thread reopens
        assert "What is a closure?" in transcript_text(app)
        assert app.chat.panel.artifacts == []

        await pilot.press("f3")
        sessions = await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and app.screen)
        table = sessions.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        table.move_cursor(row=table.get_row_index("alpha"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.session_name == "alpha")
        await pilot.pause()
        text = transcript_text(app)
        assert "Draft a note about the lighthouse" in text and "The lighthouse stands tall." in text
        assert "closure" not in text
        assert [a.title for a in app.chat.panel.artifacts] == ["lighthouse note"]
        assert app.sub_title == "alpha"

        # the agent gets the thread's context back too: the draft reaches the next chain's prompt
        await send(pilot, "/chat what was in my note?")
        assert "The lighthouse stands tall." in model.last_system

        # a new session starts empty
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.chat.session_name not in (None, "alpha"))
        await pilot.pause()
        assert "lighthouse" not in transcript_text(app)
        assert app.chat.panel.artifacts == []


@pytest.mark.asyncio
async def test_memory_browser_searches_shows_details_and_forgets_after_confirming():
    store = seed_memories()
    app, _ = make_app(store=store)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen) and app.screen)
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 3, what="the newest memories")

        screen.query_one(Input).focus()
        await pilot.press(*"how does Ana like her prose?")  # 'd' types, it does not forget
        assert not isinstance(app.screen, ConfirmScreen)
        assert screen.query_one(Input).value == "how does Ana like her prose?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.query_text != "", what="search results")
        assert "fact-style" in screen.memories  # found (its rank is the store's business)
        table.move_cursor(row=table.get_row_index("fact-style"))
        await pilot.pause()
        first = screen.selected
        assert first.text == "Ana prefers short sentences in every draft."
        detail = str(screen.query_one("#memory-detail").content)
        assert "kind: fact" in detail and "session: intro" in detail and "2026-05-07" in detail

        # forget: cancelled first, then confirmed
        table.focus()
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause()
        assert store.get(first.id) is not None
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: first.id not in screen.memories, what="the refresh")
        assert store.get(first.id) is None
        assert store.count() == 2

        await pilot.press("escape")
        assert app.screen is app.chat
