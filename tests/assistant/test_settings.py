from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.settings import load_settings


def test_layers_defaults_config_env_flags(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[assistant]\nmodel = "openai:gpt-4o-mini"\nuser = "bob"\nrecall_k = 3\n')
    s = load_settings(config_path=config, environ={})
    assert (s.model, s.user, s.recall_k) == ("openai:gpt-4o-mini", "bob", 3)
    s = load_settings(config_path=config, environ={"ASSISTANT_USER": "carol", "ASSISTANT_AUTO_RUN": "yes"})
    assert (s.user, s.auto_run, s.model) == ("carol", True, "openai:gpt-4o-mini")
    s = load_settings(config_path=config, environ={"ASSISTANT_USER": "carol"}, user="dave", data_dir="~/x")
    assert s.user == "dave"
    assert s.data_dir == Path.home() / "x"


def test_malformed_toml_names_the_file(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("model = \n[[[")
    with pytest.raises(ConfigError, match="bad.toml is not valid TOML"):
        load_settings(config_path=config, environ={})


def test_unknown_key_and_bad_values_are_named(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("modle = 'bundled'\n")
    with pytest.raises(ConfigError, match="unknown setting 'modle'"):
        load_settings(config_path=config, environ={})
    with pytest.raises(ConfigError, match="ASSISTANT_RECALL_K.*recall_k"):
        load_settings(config_path=tmp_path / "none.toml", environ={"ASSISTANT_RECALL_K": "many"})
    with pytest.raises(ConfigError, match="temperature"):
        load_settings(config_path=tmp_path / "none.toml", environ={}, temperature=5.0)


def test_the_sandbox_setting_is_validated_and_reaches_run_python(tmp_path):
    from langchain_core.language_models import FakeListChatModel

    from assistant import Assistant
    from tools import confinement

    none = tmp_path / "none.toml"
    s = load_settings(config_path=none, environ={"ASSISTANT_SANDBOX": "kernel", "ASSISTANT_SANDBOX_NETWORK": "1"})
    assert (s.sandbox, s.sandbox_network) == ("kernel", True)
    with pytest.raises(ConfigError, match="sandbox must be one of auto, kernel, hook"):
        load_settings(config_path=none, environ={"ASSISTANT_SANDBOX": "docker"})
    before = confinement.current_policy()
    try:
        Assistant(data_dir=tmp_path / "data", chat_model=FakeListChatModel(responses=["x"]),
                  settings=load_settings(config_path=none, environ={"ASSISTANT_SANDBOX": "hook"}))
        assert confinement.current_policy() == ("hook", False)
    finally:
        confinement.configure(*before)
