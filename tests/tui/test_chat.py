"""The chat screen with LangChain's fake chat model, the real router, real Chroma and sessions."""

from __future__ import annotations

import pytest

from assistant.tui.widgets.status import RouteIndicator
from assistant.tui.widgets.transcript import ReplyView

from .helpers import make_app, ready, send, simple_chains, transcript_text, wait_for


@pytest.mark.asyncio
async def test_a_message_gets_a_streamed_reply_with_its_metadata():
    app, model = make_app(["Waves fold on the *shore*,\nsalt wind hums.", "second"])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert app.chat.prompt.has_focus  # usable at once: no model was loaded for this
        await send(pilot, "Write a haiku about the sea", wait=False)
        reply = await wait_for(pilot, lambda: app.chat.query(ReplyView).first() if app.chat.query(ReplyView) else None)
        await wait_for(pilot, lambda: reply.done, what="the reply to finish")
        assert reply.text == "Waves fold on the *shore*,\nsalt wind hums."
        assert reply.route == "writing"
        text = transcript_text(app)
        assert "Write a haiku about the sea" in text
        meta = str(reply.query_one(".reply-meta").content)
        assert meta.startswith("writing · ") and "0 memories recalled" in meta
        assert app.chat.prompt.text == ""  # sent text leaves the box
        assert app.model_state == "ready"
        # the draft became an artifact in the side panel
        assert [a.kind for a in app.chat.panel.artifacts] == ["draft"]
        assert len(model.prompts) == 1


@pytest.mark.asyncio
async def test_forced_routes_by_prefix_and_by_key():
    app, _ = make_app(["```python\nprint(1)\n```", "Plain words."], chains=simple_chains())
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/code print one")
        replies = app.chat.query(ReplyView)
        assert replies.last().route == "coding"
        assert str(replies.last().header.content).startswith("coding")
        # ctrl+r cycles the next message's route: auto -> /write -> /code ...
        await pilot.press("ctrl+r", "ctrl+r")
        indicator = app.chat.query_one(RouteIndicator)
        assert indicator.forced == "/code"
        await send(pilot, "hello there")
        assert app.chat.query(ReplyView).last().route == "coding"
        assert "/code hello there" in transcript_text(app)
        assert indicator.forced is None  # only for the next message


@pytest.mark.asyncio
async def test_escape_cancels_a_reply_cleanly_and_the_app_goes_on():
    long = "word " * 400
    app, _ = make_app([long, "after"], sleep=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/chat tell me a long story", wait=False)
        reply = await wait_for(pilot, lambda: (r := app.chat.query(ReplyView)) and r.last().text and r.last())
        await pilot.press("escape")
        assert not app.chat.replying
        assert "■ cancelled" in transcript_text(app)
        await wait_for(pilot, lambda: not app.turn_threads, 10, what="the worker to close the stream")
        assert len(reply.text) < len(long.strip())
        # the cancelled turn was not remembered, and the next message works
        sessions = app.backend.get().sessions
        assert sessions.load("default").turns == []
        await send(pilot, "/chat and now?")
        assert app.chat.query(ReplyView).last().done
        assert len(sessions.load("default").turns) == 1


@pytest.mark.asyncio
async def test_an_unreachable_model_server_is_an_error_line_not_a_crash():
    from assistant.agent import Assistant
    from assistant.settings import load_settings
    from assistant.tui.app import ThroughlineApp

    settings = load_settings(model="openai:x@http://127.0.0.1:9/v1")
    app = ThroughlineApp(settings=settings, assistant_factory=lambda s, p: Assistant(settings=s, progress=p),
                         preload=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/chat hello?")
        text = transcript_text(app)
        assert "ModelServerUnreachable" in text and "127.0.0.1:9" in text
        assert any(n.severity == "error" for n in app._notifications)
        assert app.model_state == "error"  # the status line says so too
        assert app.is_running
        await send(pilot, "/chat still there?")  # the app keeps working
        assert transcript_text(app).count("ModelServerUnreachable") == 2


@pytest.mark.asyncio
async def test_an_error_while_building_the_assistant_is_shown_and_the_app_runs_on():
    from assistant.errors import ModelUnavailable

    def broken(settings, progress):
        raise ModelUnavailable("the bundled weights are missing; run `make install`")

    from assistant.settings import load_settings
    from assistant.tui.app import ThroughlineApp

    app = ThroughlineApp(settings=load_settings(), assistant_factory=broken, preload=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.model_state == "error", 20)
        await wait_for(pilot, lambda: "make install" in transcript_text(app), 5)
        assert "ModelUnavailable" in transcript_text(app)
        await send(pilot, "hello")
        assert transcript_text(app).count("ModelUnavailable") >= 2
        assert app.is_running


@pytest.mark.asyncio
async def test_escape_sequences_in_model_output_are_shown_not_executed():
    evil = "ok \x1b]52;c;cHduZWQ=\x07 \x1b[2J [bold]not markup[/bold] \x9b31m end"
    app, _ = make_app([evil])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/chat [red]hi[/red] \x1b[31m")
        reply = app.chat.query(ReplyView).last()
        assert "\x1b" not in reply.text and "\x07" not in reply.text and "\x9b" not in reply.text
        assert "␛]52;c;cHduZWQ=␇" in reply.text and "␛[2J" in reply.text
        assert "[bold]not markup[/bold]" in reply.text
        user = str(app.chat.query_one(".user-message").content)
        assert user == "/chat [red]hi[/red] ␛[31m"  # markup shown literally, ESC made visible
        svg = app.export_screenshot()
        assert "\x1b" not in svg


LONG = "".join(f"Sentence number {i} of a long reply. " for i in range(40))  # ~1,400 characters


def shown(reply: ReplyView) -> str:
    """The text the reply's Markdown widgets have been given (hard breaks undone)."""
    return "".join(md.source for md in reply._segments).replace("  \n", "\n")


@pytest.mark.asyncio
async def test_while_the_person_types_a_streaming_reply_holds_its_redraws_and_shows_every_token_at_the_end(
        monkeypatch):
    """Keys come first: a redraw of the growing reply lays the whole screen out again, so while the
    person types the reply collects its text instead of redrawing; nothing is lost."""
    from assistant.tui.widgets import prompt, reply

    monkeypatch.setattr(prompt, "TYPING_PAUSE_S", 600.0)  # the person never pauses in this test...
    monkeypatch.setattr(reply, "TYPING_REDRAW_S", 600.0)  # ...and no forced redraw comes meanwhile
    story = LONG * 4  # ~11 s of streaming at the least: the key lands mid-stream on a slow machine too
    app, _ = make_app([story], sleep=0.002)  # the fake model streams one character at a time
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/chat tell me a long story", wait=False)
        reply_view = await wait_for(pilot, lambda: (r := app.chat.query(ReplyView)) and shown(r.last()) and r.last())
        await pilot.press("t")
        await pilot.pause()
        assert app.chat.prompt.text == "t" and not reply_view.done  # the key landed mid-stream
        held, streamed = shown(reply_view), len(reply_view.text)
        await wait_for(pilot, lambda: reply_view.done or len(reply_view.text) > streamed + 100, what="more text")
        if not reply_view.done:
            assert shown(reply_view) == held  # streamed on, not redrawn while the person types
        await wait_for(pilot, lambda: reply_view.done, 120, what="the reply to end")
        await pilot.pause()
        assert shown(reply_view) == story.strip() == reply_view.text  # every token, in order
        assert app.chat.prompt.text == "t"


@pytest.mark.asyncio
async def test_a_streaming_reply_catches_up_when_the_person_pauses_typing():
    from assistant.tui.widgets.prompt import TYPING_PAUSE_S

    app, _ = make_app([LONG * 4], sleep=0.002)  # ~11 s of streaming at the least
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/chat tell me a very long story", wait=False)
        reply_view = await wait_for(pilot, lambda: (r := app.chat.query(ReplyView)) and shown(r.last()) and r.last())
        for key in "typing":
            await pilot.press(key)
        typed = len(reply_view.text)
        await pilot.pause(TYPING_PAUSE_S)  # a pause: the held text is drawn, and streaming goes on
        await wait_for(pilot, lambda: len(shown(reply_view)) >= typed, what="the held text to be drawn")
        assert not reply_view.done  # drawn because they paused, not because the reply ended
        assert app.chat.prompt.text == "typing"
        await app.chat.run_action("cancel")
        await wait_for(pilot, lambda: not app.chat.replying)
        assert shown(reply_view) == reply_view.text  # a cancelled reply keeps what streamed, all of it
