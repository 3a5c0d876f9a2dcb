"""Typing while it works (queued messages), the context meter, copying a message or its code block."""

from __future__ import annotations

import pytest

from assistant.tui.widgets.status import ContextMeter
from assistant.tui.widgets.transcript import ReplyView, UserMessage

from .helpers import make_app, ready, send, simple_chains, wait_for

LONG = "word " * 300


async def streaming(pilot, app):
    """Send a long reply's request and wait until it is streaming."""
    await send(pilot, "/chat tell me a long story", wait=False)
    return await wait_for(pilot, lambda: (r := app.chat.query(ReplyView)) and r.last().text and r.last())


@pytest.mark.asyncio
async def test_a_message_sent_during_a_reply_is_queued_then_sent_when_it_ends():
    app, model = make_app([LONG, "second answer"], sleep=0.01)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        first = await streaming(pilot, app)
        await send(pilot, "/chat and then?", wait=False)
        pending = app.chat.pending
        assert [p.text for p in pending] == ["/chat and then?"]
        assert not first.done and len(model.prompts) == 1  # not sent yet
        assert app.chat.prompt.text == ""
        await wait_for(pilot, lambda: len(app.chat.query(ReplyView)) == 2 and app.chat.query(ReplyView).last().done,
                       120, what="the queued message's reply")
        assert not app.chat.pending
        assert app.chat.query(ReplyView).last().text == "second answer"
        assert [m.text for m in app.chat.query(UserMessage)] == ["/chat tell me a long story", "/chat and then?"]
        assert app.backend.get().sessions.load("default").turns[-1].request == "and then?"


@pytest.mark.asyncio
async def test_a_queued_message_can_be_edited_or_dropped_and_escape_still_cancels():
    app, model = make_app([LONG, "after the cancel"], sleep=0.01)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await streaming(pilot, app)
        await send(pilot, "/chat frist", wait=False)
        await pilot.press("up")  # ↑ in the empty box takes it back to edit
        assert not app.chat.pending and app.chat.prompt.text == "/chat frist"
        app.chat.prompt.clear()
        await send(pilot, "/chat first", wait=False)
        await send(pilot, "/chat drop me", wait=False)
        drop = app.chat.pending[-1]
        drop.focus()
        await pilot.press("delete")
        assert [p.text for p in app.chat.pending] == ["/chat first"]
        await pilot.click(app.chat.pending[0])  # a click edits too
        assert app.chat.prompt.text == "/chat first" and not app.chat.pending
        await pilot.press("enter")  # queued again
        assert [p.text for p in app.chat.pending] == ["/chat first"]
        await pilot.press("escape")  # cancels the reply; the queued message goes now
        await wait_for(pilot, lambda: len(app.chat.query(ReplyView)) == 2 and app.chat.query(ReplyView).last().done,
                       120, what="the queued message's reply")
        assert "■ cancelled" in str(app.chat.query(ReplyView).first().query(".notice").last().content)
        assert app.chat.query(ReplyView).last().text == "after the cancel"
        assert [t.request for t in app.backend.get().sessions.load("default").turns] == ["first"]


@pytest.mark.asyncio
async def test_the_status_line_shows_the_last_turns_prompt_budget_and_f2_breaks_it_down():
    from assistant.sessions import SessionStore
    from assistant.settings import load_settings

    settings = load_settings()
    store = SessionStore(settings.data_dir, settings.user)
    thread = store.load("default")
    store.save_artifact(thread, kind="draft", title="Q3 intro", route="writing", content="Revenue grew 12% in Q3. " * 20)
    store.save(thread)
    app, _ = make_app(["```python\nprint(1)\n```"], chains=simple_chains())
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        meter = app.chat.query_one(ContextMeter)
        assert meter.budget is None and "–" in str(meter.render())
        await send(pilot, "/code print the growth")
        budget = meter.budget
        assert budget is not None and budget.budget == app.backend.get().context_tokens
        assert budget.artifacts > 100 and budget.used == budget.artifacts + budget.memories + budget.history + \
            budget.extra + budget.rule
        shown = str(meter.render())
        assert f"{round(100 * budget.used / budget.budget)}%" in shown and f"art {budget.artifacts}" in shown
        await pilot.press("f2")
        breakdown = str(app.chat.panel.query_one("#budget").content)
        assert f"{budget.used}/{budget.budget} tokens" in breakdown and "Q3 intro" in breakdown
    # reopened, the thread shows its last turn's budget again (kept with the turn's events)
    app2, _ = make_app(["unused"], chains=simple_chains())
    async with app2.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        assert app2.chat.query_one(ContextMeter).budget == budget


CODE = "Here:\n\n```python\ndef growth(a, b):\n    return (b - a) / a\n```\n\nThat is all."


@pytest.mark.asyncio
async def test_copy_a_message_or_its_code_block_by_keyboard_and_by_mouse():
    app, _ = make_app([CODE], chains=simple_chains())
    copied: list[str] = []
    async with app.run_test(size=(100, 34)) as pilot:
        app.copy_to_clipboard = copied.append
        await ready(pilot)
        await send(pilot, "/code growth function")
        await pilot.press("alt+up")  # from the message box to the last message: the reply
        reply = app.chat.query_one(ReplyView)
        assert app.focused is reply
        await pilot.press("k")
        assert copied[-1] == "def growth(a, b):\n    return (b - a) / a"
        await pilot.press("c")
        assert copied[-1] == CODE
        await pilot.press("alt+up")
        assert isinstance(app.focused, UserMessage)
        await pilot.press("k")  # no code block in the request: nothing copied, a note instead
        assert copied[-1] == CODE
        await pilot.press("escape")
        assert app.focused is app.chat.prompt
        app.chat.transcript.scroll_end(animate=False)  # focusing the request scrolled up to it
        await pilot.pause()
        await pilot.click(reply)  # the mouse: focus it, then the footer's "Copy code" key
        assert app.focused is reply
        await pilot.click(_footer_key(app, "k"))
        assert copied[-1] == "def growth(a, b):\n    return (b - a) / a"


def _footer_key(app, key: str):
    from textual.widgets._footer import FooterKey

    return next(k for k in app.screen.query(FooterKey) if k.key == key)
