"""One error tree (issue #14): errors of the memory and tools layers reach a face as
AssistantErrors with their exit codes; nothing is rebuilt from a class-name string."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.outputs import ChatResult

from assistant import Assistant, errors
from assistant.events import Failed
from tools.errors import WorkspaceError


class ToolBreaking(BaseChatModel):
    """A chat model whose call meets a tools-layer error, as a tool-using model would."""

    @property
    def _llm_type(self) -> str:
        return "tool-breaking"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        raise WorkspaceError("'../etc/passwd' escapes the workspace with '..'")


def test_a_tool_error_is_a_failed_event_with_its_exit_code(tmp_path):
    bot = Assistant(data_dir=tmp_path / "data", chat_model=ToolBreaking())
    events = list(bot.stream("What is the capital of Peru?", session="t"))
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.error == "ToolFailure" and failed.exit_code == 5 and "escapes the workspace" in failed.message
    with pytest.raises(errors.ToolFailure, match="escapes the workspace"):
        bot.ask("What is the capital of Peru?", session="t")
    bot.close()


def test_the_tree_has_no_dead_branch_and_no_string_rebuilding():
    assert not hasattr(errors, "ChainError") and not hasattr(errors, "from_name")
    for name in ("ConfigError", "InputError", "DataDirError", "MemoryFailure", "ModelError", "ToolFailure",
                 "ModelServerFault", "ModelServerUnreachable"):
        cls = getattr(errors, name)
        assert issubclass(cls, errors.AssistantError) and name in errors.__doc__
