"""The audit-hook layer's guards against hostile or careless code, with real subprocesses.

These run with the kernel layer switched off (sandbox="hook"), as on a machine without it; the
kernel layer has its own attack tests (test_sandbox_kernel.py). The audit hook is tested as it ships. The process-level guards (process-count watchdog, killing
the whole tree) are also tested with the hook switched off through the module's test-only flag,
because the hook otherwise refuses to start the processes they exist to contain.
"""

from __future__ import annotations

import dis
import importlib.util
import os
import signal
import types
from pathlib import Path

import pytest

from tools import _sandbox_setup, confinement, run_python, sandbox
from tools._proctree import members

SECRET = "FAKE-PRIVATE-KEY-7f3a9c"


@pytest.fixture(autouse=True)
def hook_only():
    before = confinement.current_policy()
    confinement.configure("hook")
    yield
    confinement.configure(*before)


@pytest.fixture
def ws(tmp_path):
    return tmp_path / "ws"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fake $HOME with a canary file and a fake SSH key; the real one is never touched."""
    fake = tmp_path / "home"
    (fake / ".ssh").mkdir(parents=True)
    (fake / ".ssh" / "id_rsa").write_text(SECRET)
    (fake / "canary.txt").write_text("still here")
    monkeypatch.setenv("HOME", str(fake))
    return fake


@pytest.fixture
def no_hook(monkeypatch):
    monkeypatch.setattr(sandbox, "_AUDIT_HOOK", False)


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in (b"Z", b"X")


def refused(result, what: str) -> bool:
    return result.exit_code == 1 and f"PermissionError: sandbox: {what}" in result.stderr


# -- the audit hook ----------------------------------------------------------------------------

def test_rm_rf_home_is_blocked_and_the_home_survives(ws, home):
    result = run_python('import os\nprint(os.system("rm -rf ~"))', workspace=ws)
    assert refused(result, "running shell commands is not allowed")
    shutil_way = run_python(f"import shutil\nshutil.rmtree({str(home)!r})", workspace=ws)
    assert refused(shutil_way, f"deleting {home} is not allowed")
    assert (home / "canary.txt").read_text() == "still here"


def test_ssh_keys_and_the_home_are_unreadable(ws, home):
    key = home / ".ssh" / "id_rsa"
    attempts = [
        f"print(open({str(key)!r}).read())",
        f"import pathlib\nprint(pathlib.Path({str(key)!r}).read_bytes())",
        f"import os\nfd = os.open({str(key)!r}, os.O_RDONLY)\nprint(os.read(fd, 100))",
        "import os\nprint(open(os.path.expanduser('~/.ssh/id_rsa')).read())",  # ~ is the workspace
        f"import subprocess\nprint(subprocess.check_output(['cat', {str(key)!r}]))",
        f"print(open({str(home / 'canary.txt')!r}).read())",
        f"import os\nprint(os.listdir({str(home)!r}))",
    ]
    for code in attempts:
        result = run_python(code, workspace=ws)
        assert result.exit_code == 1, code
        assert SECRET not in result.stdout + result.stderr
        assert "still here" not in result.stdout
        assert "canary.txt" not in result.stdout
    direct = run_python(f"open({str(key)!r})", workspace=ws)
    assert refused(direct, f"reading {key} is not allowed (credentials)")


def test_parent_environment_cannot_be_read_through_proc(ws, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret")
    result = run_python("import os\nprint(open(f'/proc/{os.getppid()}/environ', 'rb').read())", workspace=ws)
    assert refused(result, f"reading /proc/{os.getpid()}/environ is not allowed (another process)")
    own = run_python("print(len(open('/proc/self/status').read()) > 0)", workspace=ws)
    assert own.stdout == "True\n"


def test_writes_outside_the_workspace_are_blocked(ws, tmp_path):
    outside = tmp_path / "outside.txt"
    attempts = {
        f"open({str(outside)!r}, 'w').write('x')": "writing to",
        f"import os\nos.rename('in.txt', {str(outside)!r})": "moving to",
        "import os\nos.chdir('..')\nopen('outside.txt', 'w')": "writing to",
        "import os\nfd = os.open('/tmp', os.O_RDONLY)": "opening the directory /tmp",
        f"import sqlite3\nsqlite3.connect({str(tmp_path / 'x.db')!r})": "writing to",
    }
    for code, what in attempts.items():
        ws.mkdir(exist_ok=True)
        (ws / "in.txt").write_text("in")
        assert refused(run_python(code, workspace=ws), what), code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws"]
    inside = run_python("import os\nos.makedirs('a/b')\nopen('a/b/c.txt', 'w').write('ok')\nos.rename('in.txt', 'a/in.txt')",
                        workspace=ws)
    assert inside.exit_code == 0, inside.stderr
    assert inside.files == ["a/b/c.txt", "a/in.txt"]


def test_process_creation_is_blocked(ws):
    cases = {
        "import os\nfor _ in range(100):\n    os.fork()": "forking (os.fork)",
        "import subprocess\nsubprocess.run(['echo', 'hi'])": "starting processes (subprocess)",
        "import multiprocessing as mp\nif __name__ == '__main__':\n    p = mp.Process(target=print)\n    p.start()":
            "forking (os.fork)",
        "import multiprocessing.util as u\nu.spawnv_passfds(b'/bin/true', [b'/bin/true'], [])":
            "starting processes (subprocess)",  # _posixsubprocess raises no audit event: patched
        "import os\nos.execv('/bin/sh', ['sh'])": "replacing the process",
        "import os\nos.posix_spawn('/bin/true', ['true'], {})": "starting processes (os.posix_spawn)",
        "import pty\npty.spawn('/bin/sh')": "starting processes (pty.spawn)",
        "import os\nos.forkpty()": "forking (os.forkpty)",
        "import ctypes\nctypes.CDLL(None).system(b'echo pwned')": "calling system() through ctypes",
        "import sys, _posixsubprocess\ndel sys.modules['_posixsubprocess']\nimport _posixsubprocess":
            "re-importing _posixsubprocess",
    }
    for code, what in cases.items():
        result = run_python(code, workspace=ws)
        assert refused(result, what), (code, result.stderr)
        assert "pwned" not in result.stdout


def test_the_code_cannot_signal_or_unlimit_itself_out(ws):
    # signal 0 only probes, so a hook failure could not hurt the test runner
    assert refused(run_python("import os\nos.kill(os.getppid(), 0)", workspace=ws),
                   f"signalling process {os.getpid()} is not allowed")
    assert refused(run_python("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))", workspace=ws),
                   "changing resource limits")
    assert refused(run_python("import gc\ngc.get_objects()", workspace=ws), "gc introspection")


def test_monkeypatching_builtins_does_not_switch_the_hook_off(ws, tmp_path):
    code = (
        "import builtins, os, posixpath\n"
        "builtins.isinstance = lambda *a: True\n"
        "posixpath.realpath = os.path.realpath = lambda p, **k: os.getcwd()\n"
        f"open({str(tmp_path / 'pwned.txt')!r}, 'w')\n"
    )
    assert refused(run_python(code, workspace=ws), "writing to")
    assert not (tmp_path / "pwned.txt").exists()


def test_the_hook_uses_no_globals_user_code_could_rebind():
    spec = importlib.util.spec_from_file_location("_child_probe", _sandbox_setup.CHILD)
    child = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(child)

    def nested(code):
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield const
                yield from nested(const)

    lookups = {c.co_name: [i.argval for i in dis.get_instructions(c) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")]
               for c in nested(child._install_hook.__code__)}
    assert lookups and {name: found for name, found in lookups.items() if found} == {}


def test_ordinary_code_still_works_under_the_hook(ws):
    code = (
        "import json, csv, io, tempfile, pathlib, sqlite3, logging\n"
        "data = [{'a': i, 'b': i * i} for i in range(5)]\n"
        "pathlib.Path('data.json').write_text(json.dumps(data))\n"
        "db = sqlite3.connect(':memory:'); db.execute('create table t (x)')\n"
        "with tempfile.TemporaryDirectory() as d: pathlib.Path(d, 'x').write_text('y')\n"
        "logging.basicConfig(filename='run.log', level=logging.INFO); logging.info('done')\n"
        "print(sum(r['b'] for r in json.loads(open('data.json').read())), open('/etc/hostname').read() != '')\n"
    )
    result = run_python(code, workspace=ws)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "30 True\n"
    assert result.files == ["data.json", "run.log"]


# -- process containment (hook off) ------------------------------------------------------------

def test_watchdog_kills_a_fork_bomb_by_process_count(ws, no_hook):
    code = (
        "import os, time\n"
        "print(os.getpid(), flush=True)\n"
        "for _ in range(200):\n"  # bounded, so the test is safe even if the watchdog failed
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "    time.sleep(0.01)\n"
        "time.sleep(60)\n"
    )
    result = run_python(code, workspace=ws, timeout=20, max_processes=8)
    assert result.killed_reason == "processes"
    assert result.duration_s < 5
    assert "sandbox: more than 8 processes" in result.stderr
    leader = int(result.stdout.split()[0])
    assert members(leader, {}) == {}


def test_grandchildren_die_when_the_code_exits(ws, no_hook):
    code = "import subprocess\np = subprocess.Popen(['sleep', '100'])\nprint(p.pid, flush=True)\n"
    result = run_python(code, workspace=ws)
    assert result.exit_code == 0 and result.killed_reason is None
    assert not alive(int(result.stdout))


def test_grandchildren_die_on_timeout_even_if_they_left_the_session(ws, no_hook):
    code = (
        "import subprocess\n"
        "normal = subprocess.Popen(['sleep', '100'])\n"
        "shell = subprocess.run(['sh', '-c', 'setsid sleep 100 > /dev/null 2>&1 & echo $!'],\n"
        "                       capture_output=True, text=True)\n"
        "print(normal.pid, shell.stdout.strip(), flush=True)\n"
        "while True: pass\n"
    )
    result = run_python(code, workspace=ws, timeout=1.5)
    assert result.killed_reason == "timeout"
    normal, escaped = (int(pid) for pid in result.stdout.split())
    assert not alive(normal)
    assert not alive(escaped)  # found below the child (a subreaper) and killed


def test_processes_that_ignore_sigterm_are_killed(ws, no_hook):
    code = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    time.sleep(100)\n"
        "print(pid, flush=True)\n"
        "time.sleep(100)\n"
    )
    result = run_python(code, workspace=ws, timeout=1)
    assert result.killed_reason == "timeout" and result.exit_code == -signal.SIGKILL
    assert not alive(int(result.stdout))
