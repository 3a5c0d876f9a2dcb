"""The first frame comes before anything heavy: measured in a fresh interpreter, as `assistant` starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from assistant.tui.app import ThroughlineApp
from assistant.tui.screens.chat import ChatScreen

HEAVY = ("torch", "transformers", "chromadb", "sentence_transformers", "langchain_core", "assistant.agent",
         "onnxruntime", "pandas", "numpy", "matplotlib", "textual_image", "PIL", "pydantic", "tools")
# Light, but not needed for the first frame (issue 15): the agent's event records, the other screens
# (checking [tui.keys] imports them all, the memory browser's DataTable with them), the model's
# progress bar, the approval dialog.
LATER = ("assistant.events", "assistant.tui.keys", "assistant.tui.screens.memory", "assistant.tui.screens.sessions",
         "assistant.tui.screens.approval", "assistant.tui.screens.help", "textual.widgets._data_table",
         "textual.widgets._progress_bar", "textual.widgets._markdown")
report = {}

def first_call_after_the_first_paint(app):
    # Both hooks below are where the real app starts background work, after the first refresh.
    if not report:
        screen = app.screen
        report.update(
            heavy=sorted(m for m in HEAVY if m in sys.modules),
            later=sorted(m for m in LATER if m in sys.modules),
            screen=type(screen).__name__,
            prompt_focused=screen.focused is not None and screen.focused.id == "prompt",
            widgets=sorted({type(w).__name__ for w in screen.walk_children()}),
        )
        app.exit(0)

ChatScreen.open_session = lambda screen, name: first_call_after_the_first_paint(screen.app)
ThroughlineApp._start_preload = first_call_after_the_first_paint
ThroughlineApp().run(headless=True, size=(100, 30))
print(json.dumps(report))
"""


def test_the_first_frame_needs_no_heavy_import_and_the_input_is_ready(tmp_path):
    (tmp_path / "empty.toml").touch()  # a named config file must exist
    env = {"ASSISTANT_DATA_DIR": str(tmp_path / "data"), "ASSISTANT_CONFIG": str(tmp_path / "empty.toml"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report, "the app never got past its first paint"
    assert report["heavy"] == []
    assert report["later"] == []
    assert report["screen"] == "ChatScreen" and report["prompt_focused"]
    # the hidden side panel's parts and the model's progress bar are made when first needed
    assert {"ContextPanel", "ModelStatus", "PromptInput"} <= set(report["widgets"])
    assert not {"OptionList", "ArtifactList", "ProgressBar"} & set(report["widgets"])


def test_python_dash_m_assistant_tui_exits_on_a_bad_config(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[assistant]\nmax_new_tokens = 'lots'\n", encoding="utf-8")
    env = {"ASSISTANT_CONFIG": str(config), "ASSISTANT_DATA_DIR": str(tmp_path / "d"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "assistant.tui"], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=60)
    assert out.returncode == 2
    assert "max_new_tokens" in out.stderr and "Traceback" not in out.stderr


def test_a_bug_in_the_warm_up_is_logged_with_its_traceback(tmp_path, caplog):
    """Issue #14: the warm-up's failures are not reduced to a toast; a bug keeps its traceback."""
    import logging

    from assistant.settings import load_settings
    from assistant.tui.app import ThroughlineApp

    class Bot:
        def load_model(self):
            pass

        def route(self, text):
            raise KeyError("a bug in routing")

    app = ThroughlineApp(settings=load_settings(data_dir=tmp_path / "d"), assistant_factory=lambda s, p: Bot(),
                         preload=False)
    posted = []
    app.post_message = posted.append
    with caplog.at_level(logging.ERROR, logger="assistant.tui.app"):
        app._preload()
    assert any(r.exc_info and "warming up" in r.getMessage() for r in caplog.records)
    assert any("warm-up failed" in getattr(m, "stage", "") and "KeyError" in m.stage for m in posted)


@pytest.mark.asyncio
async def test_parts_left_out_of_the_first_frame_are_made_when_needed():
    """The model's progress bar appears when loading begins; the side panel is made on F2, once,
    showing what the thread sent it while it was hidden."""
    from textual.widgets import OptionList, ProgressBar

    from assistant.events import Artifact, ContextBudget, RecalledMemory

    from .helpers import make_app, ready

    app, _ = make_app(["ok"])
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        assert not app.chat.query(ProgressBar)
        app.post_message(app.ModelProgress("converting the bundled model", 0.4))
        await pilot.pause()
        bar = app.chat.query_one("#model-progress", ProgressBar)
        assert bar.display and bar.percentage == pytest.approx(0.4)
        app.post_message(app.ModelProgress("loading", 0.9))
        await pilot.pause()
        assert len(app.chat.query(ProgressBar)) == 1 and bar.percentage == pytest.approx(0.9)

        panel = app.chat.panel
        assert not panel.children
        panel.show_recalled([RecalledMemory(id="m1", text="Ana likes short sentences", kind="fact", score=0.7)])
        panel.show_budget(ContextBudget(budget=1000, memories=40, history=10))
        panel.add_artifact(Artifact(id="a1", kind="draft", title="Q3 intro", content="…", route="writing"))
        await pilot.press("f2")
        assert panel.has_class("-visible") and app.focused is panel.query_one("#artifacts")
        recalled = panel.query_one("#recalled", OptionList)
        assert "Ana likes short sentences" in str(recalled.get_option_at_index(0).prompt)
        assert "50/1000 tokens" in str(panel.query_one("#budget").content)
        assert [a.title for a in panel.query_one("#artifacts").artifacts] == ["Q3 intro"]
        parts = len(panel.children)
        await pilot.press("f2", "f2")
        assert len(panel.children) == parts
