"""The context panel's artifact actions, the help screen and the command palette's entries."""

from __future__ import annotations

import pytest

from assistant.tui.screens.artifact import ArtifactScreen
from assistant.tui.screens.help import HelpScreen

from .helpers import make_app, ready, send, simple_chains, wait_for

CODE = "```python\ndef area(r):\n    return 3.14159 * r * r\n```\nArea of a circle."


@pytest.mark.asyncio
async def test_artifacts_can_be_viewed_referenced_and_copied():
    app, _ = make_app([CODE], chains=simple_chains())
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await send(pilot, "/code area of a circle")
        [artifact] = app.chat.panel.artifacts
        assert artifact.kind == "code" and artifact.title == "area.py"

        await pilot.press("f2")
        assert app.chat.panel.has_class("-visible")
        await pilot.press("c")
        assert app.clipboard == "def area(r):\n    return 3.14159 * r * r"
        await pilot.press("i")
        assert app.chat.prompt.text == f"[artifact:{artifact.id} area.py] "
        assert app.chat.prompt.has_focus

        app.chat.prompt.clear()
        await pilot.press("f2", "f2")  # closed, then open again with the artifact list focused
        await pilot.press("enter")
        viewer = await wait_for(pilot, lambda: isinstance(app.screen, ArtifactScreen) and app.screen)
        assert "def area(r):" in viewer.query_one(".code").content.code
        await pilot.press("i")
        await wait_for(pilot, lambda: app.screen is app.chat)
        assert f"[artifact:{artifact.id} area.py]" in app.chat.prompt.text


@pytest.mark.asyncio
async def test_help_and_a_palette_entry_for_every_action():
    app, _ = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.screen is app.chat

        titles = {command.title for command in app.get_system_commands(app.chat)}
        for wanted in ("New session", "Sessions", "Memory browser", "Toggle context panel", "Cancel reply",
                       "Copy last reply", "Cycle route", "Help", "Theme", "Quit",
                       "Route next message: auto", "Route next message: /code"):
            assert wanted in titles
        # bindings in the footer for the main actions
        shown = {b.binding.description for b in app.chat.active_bindings.values() if b.binding.show}
        assert {"Route", "Context", "New", "Sessions", "Memory", "Help"} <= shown

        # a palette command works: force the next route
        [command] = [c for c in app.get_system_commands(app.chat) if c.title == "Route next message: /analyze"]
        command.callback()
        await pilot.pause()
        assert "/analyze" in app.chat.prompt.placeholder


@pytest.mark.asyncio
async def test_a_chart_artifact_is_described_and_opened_as_a_file(tmp_path):
    from assistant.events import Artifact

    png = tmp_path / "revenue.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2048))
    chart = Artifact(id="a1", kind="chart", title="revenue by month", route="analysis", path=str(png),
                     content="Bar chart of revenue by month, 12 bars.")
    app, _ = make_app()
    opened: list[str] = []
    app.open_url = lambda url, new_tab=True: opened.append(url)  # the OS viewer is outside the test
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        app.push_screen(ArtifactScreen(chart))
        viewer = await wait_for(pilot, lambda: isinstance(app.screen, ArtifactScreen) and app.screen.query(".code"))
        viewer = app.screen
        text = str(viewer.query_one(".code").render())
        assert "Image file (PNG, 2.0 KB)" in text and "Bar chart of revenue" in text
        assert "\\x89" not in text and "\x89" not in text  # the bytes are never shown
        await pilot.press("c")
        assert app.clipboard == str(png)
        await pilot.press("o")
        assert opened == [png.resolve().as_uri()]
        await pilot.press("escape")
        png.unlink()
        app.push_screen(ArtifactScreen(chart))
        await wait_for(pilot, lambda: isinstance(app.screen, ArtifactScreen) and app.screen.query(".code"))
        viewer = app.screen
        assert "its file is missing" in str(viewer.query_one(".code").render())
        await pilot.press("o")
        assert opened == [png.resolve().as_uri()]  # nothing more was opened
