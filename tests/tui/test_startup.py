"""The first frame comes before anything heavy: measured in a fresh interpreter, as `assistant` starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from assistant.tui.app import ThroughlineApp
from assistant.tui.screens.chat import ChatScreen

HEAVY = ("torch", "transformers", "chromadb", "sentence_transformers", "langchain_core", "assistant.agent",
         "onnxruntime", "pandas", "numpy", "matplotlib", "textual_image", "PIL", "pydantic", "tools")
report = {}

def first_call_after_the_first_paint(app):
    # Both hooks below are where the real app starts background work, after the first refresh.
    if not report:
        report.update(
            heavy=sorted(m for m in HEAVY if m in sys.modules),
            screen=type(app.screen).__name__,
            prompt_focused=app.screen.focused is not None and app.screen.focused.id == "prompt",
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
    assert report["screen"] == "ChatScreen" and report["prompt_focused"]


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
