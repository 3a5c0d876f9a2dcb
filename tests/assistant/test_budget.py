"""The prompt's context budget: chosen by the model unless the config sets one (assistant/budget.py).
Real Chroma in a temp dir for the turns; LangChain's fake chat models stand in for a served model."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from langchain_core.language_models import FakeListChatModel

from assistant import Assistant
from assistant.budget import LOCAL_CONTEXT_TOKENS, SERVED_CONTEXT_TOKENS, context_budget
from assistant.errors import ConfigError
from assistant.events import Recalled
from assistant.models import build_chat_model
from assistant.settings import load_settings
from memory import Memory


def _settings(tmp_path, env=None, config: str = ""):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(config)
    return load_settings(config_path=path, environ=env or {}, data_dir=str(tmp_path / "data"))


def test_the_bundled_model_keeps_the_budget_that_meets_its_first_token_target(tmp_path):
    """By default through `Assistant`: no model is loaded to decide it."""
    bot = Assistant(settings=_settings(tmp_path))
    assert bot.settings.context_tokens is None
    assert bot.context_tokens == LOCAL_CONTEXT_TOKENS
    assert context_budget(build_chat_model("bundled")) == LOCAL_CONTEXT_TOKENS


def test_a_served_model_gets_the_larger_budget_or_a_share_of_its_window(tmp_path):
    assert SERVED_CONTEXT_TOKENS > LOCAL_CONTEXT_TOKENS
    served = Assistant(settings=_settings(tmp_path), chat_model=FakeListChatModel(responses=["x"]))
    assert served.context_tokens == SERVED_CONTEXT_TOKENS          # window unknown: a server's
    assert context_budget(build_chat_model("openai:gpt-4o-mini@http://127.0.0.1:9/v1")) == SERVED_CONTEXT_TOKENS
    small = FakeListChatModel(responses=["x"], profile={"max_input_tokens": 4096})
    assert context_budget(small) == 1024                            # a quarter of a small window


def test_context_tokens_in_the_config_or_environment_overrides_the_models_budget(tmp_path):
    fake = FakeListChatModel(responses=["x"])
    assert Assistant(settings=_settings(tmp_path, config="[assistant]\ncontext_tokens = 800\n"),
                     chat_model=fake).context_tokens == 800
    assert Assistant(settings=_settings(tmp_path, {"ASSISTANT_CONTEXT_TOKENS": "2500"})).context_tokens == 2500
    assert _settings(tmp_path, {"ASSISTANT_CONTEXT_TOKENS": "auto"}).context_tokens is None
    with pytest.raises(ConfigError, match="ASSISTANT_CONTEXT_TOKENS.*context_tokens"):
        _settings(tmp_path, {"ASSISTANT_CONTEXT_TOKENS": "lots"})
    with pytest.raises(ConfigError, match="context_tokens must be a positive number"):
        _settings(tmp_path, config="[assistant]\ncontext_tokens = 0\n")


def _recalled(tmp_path, name: str, **settings) -> Recalled:
    bot = Assistant(settings=_settings(tmp_path / name, **settings), chat_model=FakeListChatModel(responses=["ok"]))
    start = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    bot.store.add_many([
        Memory(text=f"User: marathon training, week {i}: I ran {10 + i} km along the river in the rain, then "
                    f"stretched for twenty minutes and wrote down how my knee felt afterwards", kind="turn",
               session=f"w{i}", metadata={"speaker": "user"}, created_at=start + timedelta(days=7 * i))
        for i in range(30)
    ])
    event = next(e for e in bot.stream("/chat How did my marathon training go?", session="fresh")
                 if isinstance(e, Recalled))
    bot.close()
    return event


def test_the_models_budget_reaches_the_prompt_and_goes_to_memories(tmp_path):
    """A served model's larger budget is what the context builder splits: more memories reach the
    prompt than under the config's smaller one."""
    served = _recalled(tmp_path, "served")
    capped = _recalled(tmp_path, "capped", config=f"[assistant]\ncontext_tokens = {LOCAL_CONTEXT_TOKENS}\n")
    assert served.budget.budget == SERVED_CONTEXT_TOKENS and capped.budget.budget == LOCAL_CONTEXT_TOKENS
    assert len(served.memories) > len(capped.memories) >= 5
    assert served.budget.memories > 1.2 * LOCAL_CONTEXT_TOKENS > capped.budget.memories
