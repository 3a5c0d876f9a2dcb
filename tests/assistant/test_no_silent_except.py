"""No failure is swallowed (issue #14): the close-time summary write, the CLI's background model
load and the TUI's warm-up each say what went wrong."""

from __future__ import annotations

import logging

from assistant import Assistant
from assistant.ask_command import report_background
from memory import StoreUnavailable

from .fakes import RecordingFakeChat


def test_a_summary_that_cannot_be_written_at_close_is_logged_and_kept_due(tmp_path, caplog):
    bot = Assistant(data_dir=tmp_path / "data", chat_model=RecordingFakeChat(responses=["one", "two"]))
    bot.ask("What is the capital of Peru?", session="s")
    bot.ask("And of Chile?", session="s")
    bot.flush()

    def full_disk(memories):
        raise StoreUnavailable("no space left on device")

    bot._memory().add_many = full_disk
    with caplog.at_level(logging.WARNING, logger="assistant.agent"):
        bot.close()
    assert any("summary" in r.getMessage() and "no space left" in r.getMessage() for r in caplog.records)
    assert bot.sessions.load("s").summarized_through == ""  # still due: the next close writes it


def test_a_background_model_load_failure_is_reported(capsys):
    report_background([RuntimeError("weights truncated")])
    err = capsys.readouterr().err
    assert err.startswith("assistant: warning:") and "RuntimeError: weights truncated" in err
