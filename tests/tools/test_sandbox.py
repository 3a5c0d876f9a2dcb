"""run_python with real subprocesses: results, files, and every resource limit.

Every test here runs twice: under the kernel layer (bubblewrap; skipped with the reason where the
kernel does not allow it) and with it switched off (the audit hook alone)."""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

import pytest

from tools import RunResult, confinement, run_python
from tools._fswalk import remove_tree


@pytest.fixture(autouse=True, params=["kernel", "hook"])
def layer(request):
    if request.param == "kernel" and not confinement.confinement().processes:
        pytest.skip(f"no kernel sandbox here: {confinement.confinement().reason}")
    before = confinement.current_policy()
    confinement.configure(request.param)
    yield request.param
    confinement.configure(*before)


@pytest.fixture
def ws(tmp_path):
    return tmp_path / "ws"


def test_the_design_example(ws):
    result = run_python("print(1 + 1)", workspace=ws, timeout=30, memory_mb=1024)
    assert isinstance(result, RunResult)
    assert (result.stdout, result.stderr, result.exit_code, result.timed_out) == ("2\n", "", 0, False)
    assert result.files == [] and not result.truncated and result.killed_reason is None
    assert 0 < result.duration_s < 10
    assert result.ok
    assert ws.is_dir()  # created when missing


def test_files_lists_what_the_code_created_or_changed(ws):
    ws.mkdir()
    (ws / "kept.txt").write_text("same")
    (ws / "changed.txt").write_text("old")
    code = (
        "import os, tempfile\n"
        "open('out.csv', 'w').write('a,b\\n1,2\\n')\n"
        "os.makedirs('sub', exist_ok=True); open('sub/deep.txt', 'w').write('x')\n"
        "open('changed.txt', 'a').write(' and new')\n"
        "tempfile.NamedTemporaryFile(delete=False).write(b'scratch')\n"
        "os.makedirs(os.environ['XDG_CACHE_HOME'], exist_ok=True)\n"
        "open(os.path.join(os.environ['XDG_CACHE_HOME'], 'fonts.json'), 'w').write('{}')\n"
        "print(os.getcwd())\n"
    )
    result = run_python(code, workspace=ws)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{ws.resolve()}\n"
    assert result.files == ["changed.txt", "out.csv", "sub/deep.txt"]
    assert not (ws / ".tmp").exists()  # TMPDIR lives in the workspace and is removed afterwards


def test_errors_exit_codes_and_stdin(ws):
    failed = run_python("def f():\n    raise ValueError('boom')\nf()", workspace=ws)
    assert failed.exit_code == 1 and failed.killed_reason is None and not failed.ok
    assert failed.stderr.startswith("Traceback (most recent call last):\n  File \"<code>\", line 3")
    assert failed.stderr.endswith("ValueError: boom\n")
    assert "_sandbox_child" not in failed.stderr  # the bootstrap's frames are hidden

    syntax = run_python("print(1 +", workspace=ws)
    assert syntax.exit_code == 1 and "SyntaxError" in syntax.stderr

    assert run_python("import sys; sys.exit(3)", workspace=ws).exit_code == 3
    echoed = run_python("import sys; print(sys.stdin.read().upper())", workspace=ws, stdin="héllo\n" * 3000)
    assert echoed.stdout == "HÉLLO\n" * 3000 + "\n"
    no_stdin = run_python("import sys; print(repr(sys.stdin.read()))", workspace=ws)
    assert no_stdin.stdout == "''\n"


def test_user_modules_in_the_workspace_are_importable(ws):
    ws.mkdir()
    (ws / "helper.py").write_text("def twice(x):\n    return 2 * x\n")
    result = run_python("import helper, __main__\nprint(helper.twice(21), __name__, __main__.__file__)", workspace=ws)
    assert result.stdout == "42 __main__ <code>\n", result.stderr


def test_timeout_kills_a_busy_loop(ws):
    start = time.monotonic()
    result = run_python("print('started', flush=True)\nwhile True: pass", workspace=ws, timeout=1)
    assert time.monotonic() - start < 5
    assert result.timed_out and result.killed_reason == "timeout"
    assert result.exit_code == -9
    assert result.stdout == "started\n"
    assert "sandbox: killed after the 1 s timeout" in result.stderr


def test_cpu_limit(ws):
    result = run_python("while True: pass", workspace=ws, timeout=20, cpu_seconds=1)
    assert result.killed_reason == "cpu" and not result.timed_out
    assert result.duration_s < 10
    assert "cpu_seconds" in result.stderr


def test_memory_limit_on_a_10_gb_allocation(ws):
    before = resource.getrlimit(resource.RLIMIT_AS)
    result = run_python("x = bytearray(10 * 1024**3)\nprint('allocated')", workspace=ws, memory_mb=512)
    assert result.killed_reason == "memory"
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Traceback (most recent call last):\n  File \"<code>\", line 1")
    assert result.stderr.endswith("MemoryError\nsandbox: the code ran out of memory; the limit is 512 MB (memory_mb)\n")
    assert resource.getrlimit(resource.RLIMIT_AS) == before  # the limit stayed in the child
    assert bytearray(64 * 1024 * 1024)  # and this process can still allocate


def test_memory_limit_on_gradual_growth(ws):
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(32 * 1024 * 1024))"
    result = run_python(code, workspace=ws, memory_mb=256, timeout=20)
    assert result.killed_reason == "memory", result.stderr
    assert result.duration_s < 10


def test_a_gigabyte_of_output_is_cut_and_killed_quickly(ws):
    start = time.monotonic()
    result = run_python('while True: print("x" * 10000)', workspace=ws)
    assert time.monotonic() - start < 5
    assert result.truncated and result.killed_reason == "output"
    assert len(result.stdout) <= 1_000_000 and result.stdout.startswith("x" * 10000 + "\n")
    assert "sandbox: output passed 1000000 bytes" in result.stderr


def test_the_output_cap_counts_stderr_too(ws):
    result = run_python("import sys\nsys.stderr.write('e' * 5000)\nprint('late')", workspace=ws,
                        max_output_bytes=1000)
    assert result.truncated and result.killed_reason == "output"
    assert result.stderr.startswith("e" * 1000) and len(result.stdout) == 0


def test_file_size_limit(ws):
    result = run_python("open('big.bin', 'wb').write(b'x' * 2_000_000)", workspace=ws, max_file_bytes=1_000_000)
    assert result.exit_code == 1
    assert "File too large" in result.stderr
    assert (ws / "big.bin").stat().st_size <= 1_000_000


def test_environment_is_scrubbed(ws, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-parent-secret")
    code = "import os, json; print(json.dumps(dict(os.environ)))"
    result = run_python(code, workspace=ws, env={"EXTRA": "given"})
    env = __import__("json").loads(result.stdout)
    assert set(env) == {"PATH", "LANG", "HOME", "TMPDIR", "XDG_CACHE_HOME", "MPLCONFIGDIR",
                        "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING", "EXTRA"}
    assert env["HOME"] == str(ws.resolve())
    assert env["TMPDIR"] == str(ws.resolve() / ".tmp")
    assert env["EXTRA"] == "given"
    assert "secret" not in result.stdout


def test_bad_arguments_are_refused_before_anything_runs(ws):
    with pytest.raises(ValueError, match="must be positive"):
        run_python("print(1)", workspace=ws, timeout=0)
    assert not ws.exists()


def test_runs_leave_no_temp_dirs_or_descriptors(ws):
    def private_dirs():
        return {p.name for p in Path(tempfile.gettempdir()).glob("throughline-run-*")}

    fds, dirs = len(os.listdir("/proc/self/fd")), private_dirs()
    for _ in range(3):
        run_python("print('x')", workspace=ws)
    assert len(os.listdir("/proc/self/fd")) == fds
    assert private_dirs() <= dirs


@pytest.fixture
def deep_ws(ws):
    yield ws
    remove_tree(str(ws))  # pytest's own clean-up of old temp dirs recurses and would choke on it


def test_a_very_deep_tree_breaks_no_later_run(deep_ws):
    ws = deep_ws
    ws.mkdir()
    fd = os.open(ws, os.O_RDONLY)
    for _ in range(1500):  # made here: the audit hook checks each call along the whole path
        os.mkdir("d", dir_fd=fd)
        fd, parent = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(parent)
    os.close(fd)
    first = run_python("import os\nos.chdir('d/' * 1500)\nopen('leaf.txt', 'w').write('deep')\n", workspace=ws)
    assert first.ok and ("d/" * 1500 + "leaf.txt") in first.files, first
    again = run_python("print('still fine')", workspace=ws)
    assert again.stdout == "still fine\n", again


def test_a_planted_module_does_not_shadow_the_real_one(ws):
    ws.mkdir()
    (ws / "json.py").write_text("raise SystemExit('the planted json.py was imported')\n")
    (ws / "helper.py").write_text("VALUE = 42\n")
    result = run_python("import json, helper; print(json.dumps([helper.VALUE]))", workspace=ws)
    assert result.stdout == "[42]\n", result


def test_what_the_code_did_before_a_timeout_is_kept(ws):
    ws.mkdir()
    (ws / "old.txt").write_text("delete me")
    (ws / "keep.txt").write_text("untouched")
    code = "import os, time\nos.remove('old.txt')\nopen('new.txt', 'w').write('made')\ntime.sleep(30)\n"
    result = run_python(code, workspace=ws, timeout=2)
    assert result.killed_reason == "timeout", result
    assert sorted(p.name for p in ws.iterdir() if not p.name.startswith(".")) == ["keep.txt", "new.txt"]
    assert (ws / "new.txt").read_text() == "made" and result.files == ["new.txt"]
