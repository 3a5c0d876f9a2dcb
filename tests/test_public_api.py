"""The public names are the contract (DESIGN.md §3): sorted, complete, and all resolvable."""

from __future__ import annotations

import importlib
import inspect

import pytest


@pytest.mark.parametrize("package", ["assistant", "memory", "tools"])
def test_all_is_sorted_and_every_name_resolves(package):
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_the_documented_names_are_public():
    import assistant
    import memory
    import tools

    assert {"Assistant", "Reply", "Route", "Routed", "Recalled", "Token", "ToolStarted", "ToolFinished",
            "ApprovalNeeded", "ArtifactSaved", "Finished", "Failed", "AssistantError"} <= set(assistant.__all__)
    assert {"MemoryStore", "Memory", "Hit"} <= set(memory.__all__)
    assert {"run_python", "tool", "RunResult"} <= set(tools.__all__)


def test_the_assistant_constructor_matches_the_design():
    from assistant import Assistant

    params = inspect.signature(Assistant).parameters
    assert list(params)[:3] == ["data_dir", "model", "user"]
    for method in ("ask", "stream", "astream", "route"):
        assert callable(getattr(Assistant, method))
    ask = inspect.signature(Assistant.ask).parameters
    assert "session" in ask
