"""Screenshots of the main screen, the side panel with artifacts and the memory browser.

Deterministic by construction: fixed terminal size, the fake model, frozen reply timings, memories
with fixed dates, no cursor blink. Update with `pytest tests/tui/test_snapshots.py --snapshot-update`
after looking at the new SVGs.
"""

from __future__ import annotations

import time

import pytest
from textual.widgets import DataTable, Input

from assistant.events import RecalledMemory
from assistant.sessions import SessionStore, TurnRecord
from assistant.settings import load_settings
from assistant.tui.screens.memory import MemoryScreen

from .helpers import (
    make_app,
    no_blink,
    ready,
    seed_memories,
    send,
    simple_chains,
    wait_for,
)

SIZE = (110, 34)
RECALLED = (  # what the agent recalled, frozen: recall ranking is the memory store's, tested there
    RecalledMemory(id="fact-style", text="Ana prefers short sentences in every draft.", kind="fact", score=0.71,
                   session="intro", created_at="2026-05-07T13:57:00+00:00"),
    RecalledMemory(id="turn-q3", text="User: plot revenue by month\nAssistant: Revenue peaked in March.",
                   kind="turn", score=0.42, session="q3", route="analysis", created_at="2026-05-06T09:00:00+00:00"),
)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Times are shown in local time: pin the zone so screenshots match everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
def after_sending(app, text: str):
    """A run_before that sends `text` and waits for the reply, cursor still."""
    async def run_before(pilot):
        await ready(pilot)
        await send(pilot, text)
        no_blink(app)

    return run_before


CODE_REPLY = (
    "Here is a function that computes growth:\n\n"
    "```python\ndef growth(a: float, b: float) -> float:\n    \"\"\"Relative change from a to b.\"\"\"\n"
    "    return (b - a) / a\n```\n\nCall it with last month's and this month's revenue."
)


def test_main_screen_after_a_streamed_code_reply(snap_compare):
    app, _ = make_app([CODE_REPLY], frozen=True, chains=simple_chains())
    assert snap_compare(app, terminal_size=SIZE, run_before=after_sending(app, "/code a function for month-over-month growth"))


def seed_thread() -> None:
    """A session with one earlier turn and its draft (fixed dates; artifacts' dates are not shown)."""
    settings = load_settings()
    sessions = SessionStore(settings.data_dir, settings.user)
    thread = sessions.load("default")
    thread.turns.append(TurnRecord(
        request="/write a short sentence about Q3 revenue for Ana",
        reply="Short and clear: revenue grew 12% in Q3.", route="writing", created_at="2026-05-07T14:00:00+00:00",
    ))
    sessions.save_artifact(thread, kind="draft", title="Q3 revenue sentence", route="writing",
                           content="Short and clear: revenue grew 12% in Q3.")
    thread.current_route = "writing"
    sessions.save(thread)


def side_panel_after_a_turn():
    """(app, run_before): a turn on a seeded thread with frozen recalled memories, then F2."""
    store = seed_memories()  # only memories with fixed dates can be recalled
    seed_thread()
    app, _ = make_app([CODE_REPLY], frozen=True, store=store, chains=simple_chains(), recalled=RECALLED)

    async def run_before(pilot):
        await ready(pilot)
        await send(pilot, "/code a function for Q3 revenue growth")
        await pilot.press("f2")
        no_blink(app)

    return app, run_before


def test_side_panel_with_recalled_memories_and_artifacts(snap_compare):
    app, run_before = side_panel_after_a_turn()
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_memory_browser(snap_compare):
    """The newest memories with one selected: the search ranking is the store's (tested there)."""
    store = seed_memories()
    app, _ = make_app(store=store)

    async def run_before(pilot):
        await ready(pilot)
        await pilot.press("f4")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen) and app.screen)
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        table.focus()
        await pilot.press("down")
        no_blink(app)
        screen.query_one(Input).cursor_blink = False

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


CHECKS = [{"check": "not empty", "ok": True, "detail": "38 words"},
          {"check": "length", "ok": False, "detail": "too long: 38 > 30"},
          {"check": "mentions Q3", "ok": True, "detail": "found"}]
TABLE = [{"month": "Jan", "revenue": 1200.5, "orders": 31}, {"month": "Feb", "revenue": 980.0, "orders": 27},
         {"month": "Mar", "revenue": 1534.25, "orders": 40}]
DIFF = {"from_version": 1, "lines_added": 1, "lines_removed": 1, "words": "6 → 9",
        "diff": "--- v1\n+++ v2\n@@ -1 +1 @@\n-Revenue grew.\n+Revenue grew 12% in Q3."}


def test_tool_results_for_people(snap_compare):
    """Checks as ✓/✗, a table with numbers aligned, a coloured diff — never a repr."""
    from assistant.events import ToolFinished, ToolStarted

    from .helpers import scripted_chains

    chains = scripted_chains(
        "writing",
        ToolStarted("review_draft"), ToolFinished("review_draft", result=CHECKS, duration_s=0.01),
        ToolStarted("analyze_table"), ToolFinished("analyze_table", result=TABLE, duration_s=0.02),
        ToolStarted("diff_texts"), ToolFinished("diff_texts", result=DIFF, duration_s=0.01),
    )
    app, _ = make_app(["Revenue grew 12% in Q3."], frozen=True, chains=chains)
    assert snap_compare(app, terminal_size=(110, 40), run_before=after_sending(app, "/write tighten the Q3 sentence"))


def test_an_inline_chart_in_half_block_fallback(snap_compare):
    from assistant.chains.base import NewArtifact

    from .helpers import bar_chart_png, scripted_chains

    def chart(run):
        return NewArtifact("chart", "Revenue by month", "Bar chart", path=bar_chart_png(run.workspace / "chart.png"))

    app, _ = make_app(["Revenue peaked in March."], frozen=True, chains=scripted_chains("analysis", chart))
    assert snap_compare(app, terminal_size=(110, 40), run_before=after_sending(app, "/analyze plot revenue by month"))


def test_a_queued_message_while_a_reply_streams(snap_compare):
    """The reply is held mid-stream (its model waits on an event) so the frame is deterministic."""
    import threading

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessageChunk

    from assistant.tui.widgets.transcript import ReplyView

    from .helpers import wait_for

    release = threading.Event()

    def chunks():
        yield AIMessageChunk(content="The first half of the answer")
        release.wait(30)
        yield AIMessageChunk(content=" and the rest.")

    class Held(GenericFakeChatModel):
        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            from langchain_core.outputs import ChatGenerationChunk

            for chunk in chunks():
                yield ChatGenerationChunk(message=chunk)

    app, _ = make_app(chat_model=Held(messages=iter([])), frozen=True)

    async def run_before(pilot):
        await ready(pilot)
        await send(pilot, "/chat a long answer please", wait=False)
        await wait_for(pilot, lambda: (r := app.chat.query(ReplyView)) and "first half" in r.last().text)
        await send(pilot, "/chat and then make it shorter", wait=False)
        await pilot.pause(0.2)  # the streamed text settles (the stream coalesces writes)
        no_blink(app)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        release.set()


def test_the_context_meter_and_its_breakdown(snap_compare):
    """The status line's meter and, in the F2 panel, the budget block by block (a taller terminal)."""
    app, run_before = side_panel_after_a_turn()
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
