"""The edge cases of issue #14: each one a clear message and exit 2 (or the right behaviour),
never the current directory, a silent default, an internal error or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from assistant.errors import ConfigError
from assistant.settings import load_settings
from tools.errors import WorkspaceError
from tools.files import read_file

from .test_cli import ROOT, assert_one_line_error, run_cli


def test_an_empty_data_dir_is_refused_not_the_current_directory(tmp_path):
    with pytest.raises(ConfigError, match="data_dir"):
        load_settings(environ={"ASSISTANT_DATA_DIR": "", "ASSISTANT_CONFIG": os.environ["ASSISTANT_CONFIG"]})
    with pytest.raises(ConfigError, match="data_dir"):
        load_settings(data_dir="")
    code, _, err = run_cli("--data-dir", "", "memory", "stats")
    assert code == 2
    assert_one_line_error(code, err, "data_dir")


def test_argv_that_is_not_utf8_is_exit_2():
    proc = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "route", b"caf\xe9 \xff"], capture_output=True, cwd=ROOT, timeout=120,
    )
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, err
    assert_one_line_error(proc.returncode, err, "UTF-8")


def test_a_config_file_that_is_not_utf8_is_exit_2(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_bytes(b"[assistant]\nuser = \"caf\xe9\"\n")
    code, _, err = run_cli("memory", "stats", env={"ASSISTANT_CONFIG": str(bad)})
    assert code == 2
    assert_one_line_error(code, err, "UTF-8", str(bad))


def test_assistant_config_naming_a_missing_file_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="ASSISTANT_CONFIG"):
        load_settings(environ={"ASSISTANT_CONFIG": str(missing)})
    code, _, err = run_cli("memory", "stats", env={"ASSISTANT_CONFIG": str(missing)})
    assert code == 2
    assert_one_line_error(code, err, "nope.toml")


def test_memory_export_dash_writes_to_stdout(tmp_path):
    data = tmp_path / "d"
    assert run_cli("--data-dir", str(data), "memory", "add", "the sky is green here")[0] == 0
    code, out, err = run_cli("--data-dir", str(data), "memory", "export", "-", cwd=tmp_path)
    assert code == 0, err
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["the sky is green here"]
    assert not (tmp_path / "-").exists()


def test_read_file_on_a_fifo_fails_at_once_instead_of_hanging(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    result: list = []
    worker = threading.Thread(target=lambda: result.append(_read(tmp_path)), daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader so the test process can end
        with open(tmp_path / "pipe", "w"):
            pass
        pytest.fail("read_file blocked on a FIFO")
    assert isinstance(result[0], WorkspaceError) and "not a regular file" in str(result[0])


def _read(workspace):
    try:
        return read_file("pipe", workspace=workspace)
    except WorkspaceError as exc:
        return exc
