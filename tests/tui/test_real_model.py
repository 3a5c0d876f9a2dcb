"""The chat UI on the real bundled model: it loads with a progress bar in the background while
the input works, then a reply streams in."""

from __future__ import annotations

import pytest

from assistant.settings import load_settings
from assistant.tui.app import ThroughlineApp
from assistant.tui.widgets.transcript import ReplyView

from .helpers import ready, send, transcript_text, wait_for


class RecordingApp(ThroughlineApp):
    stages: list[str]

    def on_throughline_app_model_progress(self, message) -> None:
        self.stages = [*getattr(self, "stages", []), message.stage]
        super().on_throughline_app_model_progress(message)


@pytest.mark.model
@pytest.mark.asyncio
async def test_the_bundled_model_loads_in_the_background_and_streams_a_reply():
    app = RecordingApp(settings=load_settings(max_new_tokens=24), preload=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press(*"typing works while the model loads")
        assert app.chat.prompt.text == "typing works while the model loads"
        app.chat.prompt.clear()
        await wait_for(pilot, lambda: app.model_state == "ready", 300, what="the bundled model to load")
        assert any("bundled" in stage for stage in app.stages)  # progress reached the status line
        await send(pilot, "/chat Say hello to Ana in one short sentence.", timeout=300)
        reply = app.chat.query(ReplyView).last()
        assert reply.done and reply.route == "chat"
        assert reply.text.strip()
        assert reply._segments, "the reply streamed into a Markdown widget"
        meta = str(reply.query_one(".reply-meta").content)
        assert meta.startswith("chat · ") and "tokens" in meta
        assert "✗" not in transcript_text(app)
