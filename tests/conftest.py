"""Suite-wide guards: nothing in the tests may reach a model hub, and nothing may touch the
developer's real data or cache dirs."""

from __future__ import annotations

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Every test gets its own data dir; the model cache stays shared so the bundled model is
    converted once per machine, as it is for users."""
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    # A named config file must exist (an empty one is all defaults); beside tmp_path, not in it,
    # so tests that list tmp_path see only what they made.
    config = tmp_path.parent / f"{tmp_path.name}.config.toml"
    config.touch()
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    for name in list(os.environ):
        if name.startswith("ASSISTANT_") and name not in ("ASSISTANT_DATA_DIR", "ASSISTANT_CONFIG", "ASSISTANT_CACHE_DIR"):
            monkeypatch.delenv(name, raising=False)
    # `assistant ask` in a subprocess answers in that process: a resident agent per test would
    # outlive it by minutes (tests/assistant/test_resident.py turns it on where it is the subject).
    monkeypatch.setenv("ASSISTANT_KEEP_ALIVE", "0")
    yield
