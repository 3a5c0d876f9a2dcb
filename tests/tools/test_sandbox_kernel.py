"""Real attacks on run_python, run in the real kernel sandbox (bubblewrap), which must refuse them.

Every attack first switches the audit hook off the way an attacker would (through the frames of
the PermissionError it raises), so what stops it is the kernel, not the hook. Each test skips,
saying why, where the kernel gives no namespaces. To see the same attacks get through without the
kernel layer, run this file with THROUGHLINE_ATTACK_LAYER=hook: the attack tests then fail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tools import confinement, run_python, sandbox

LAYER = os.environ.get("THROUGHLINE_ATTACK_LAYER", "kernel")
SECRET = "FAKE-PRIVATE-KEY-0c4e1b"
HOOK_OFF = textwrap.dedent('''
    def _switch_off_the_hook():
        try:
            open("/etc/throughline-probe", "w")
        except PermissionError as exc:
            tb = exc.__traceback__
            while tb is not None:
                if "get_handler" in tb.tb_frame.f_locals:
                    tb.tb_frame.f_locals["get_handler"].__self__.clear()
                tb = tb.tb_next
        except OSError:
            pass
    _switch_off_the_hook()
    import os, sys
''')

pytestmark = pytest.mark.skipif(
    LAYER == "kernel" and not confinement.confinement().processes,
    reason=f"the kernel sandbox is unavailable here: {confinement.confinement().reason}")


@pytest.fixture(autouse=True)
def layer():
    before = confinement.current_policy()
    confinement.configure(LAYER)
    yield
    confinement.configure(*before)


@pytest.fixture
def ws(tmp_path):
    return tmp_path / "ws"


def attack(code: str, ws: Path, **kwargs):
    return run_python(HOOK_OFF + textwrap.dedent(code), workspace=ws, **{"timeout": 20, **kwargs})


def test_writing_outside_the_workspace_is_refused(ws, tmp_path):
    target = tmp_path / "outside.txt"
    name = f"throughline-pwned-{uuid.uuid4().hex}"
    system = [Path("/usr") / name, Path("/") / name]  # removed below if the attack got through
    try:
        result = attack(f"""
            for path in ({str(target)!r}, {str(system[0])!r}, "/run/throughline/source/x", {str(system[1])!r}):
                try:
                    open(path, "w").write("pwned")
                    print("WROTE", path)
                except OSError as exc:
                    print("refused", path, exc.errno)
        """, ws)
        landed = [p for p in (target, *system) if p.exists()]
    finally:
        for path in system:
            path.unlink(missing_ok=True)
    # Under /tmp the write lands in the sandbox's private /tmp (a tmpfs), never on the host.
    assert result.stdout.count("refused") >= 3 and landed == [], result


def test_ssh_keys_in_home_are_not_readable(ws, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(SECRET)
    monkeypatch.setenv("HOME", str(home))
    result = attack(f"""
        try:
            print(open({str(home / '.ssh' / 'id_rsa')!r}).read())
        except OSError as exc:
            print("refused", exc.errno)
    """, ws)
    assert SECRET not in result.stdout and "refused" in result.stdout, result


def test_the_parents_environment_is_out_of_reach(ws):
    # A stand-in for the assistant: /proc/PID/environ shows a process's environment as it started.
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                              env={**os.environ, "OPENAI_API_KEY": "sk-parent-secret-5d21"})
    try:
        result = attack(f"""
            for pid in (os.getppid(), {parent.pid}):
                try:
                    print(open("/proc/%d/environ" % pid, "rb").read())
                except OSError as exc:
                    print("refused", pid, exc.errno)
        """, ws)
    finally:
        parent.kill()
        parent.wait()
    assert "sk-parent-secret-5d21" not in result.stdout and "refused" in result.stdout, result


def test_other_processes_cannot_be_signalled(ws):
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        result = attack(f"""
            import importlib.machinery
            fresh = importlib.machinery.BuiltinImporter.create_module(
                importlib.machinery.ModuleSpec("_signal", importlib.machinery.BuiltinImporter))
            posix = importlib.machinery.BuiltinImporter.create_module(
                importlib.machinery.ModuleSpec("posix", importlib.machinery.BuiltinImporter))
            for pid in ({victim.pid},):  # a stand-in for the assistant, which this would kill
                try:
                    fresh.pidfd_send_signal(posix.pidfd_open(pid), 9)
                    print("SIGNALLED", pid)
                except OSError as exc:
                    print("refused", pid, exc.errno)
            try:
                os.kill({victim.pid}, 9)
                print("KILLED")
            except OSError as exc:
                print("refused kill", exc.errno)
        """, ws)
        time.sleep(0.2)
        assert victim.poll() is None and "KILLED" not in result.stdout, result
    finally:
        victim.kill()
        victim.wait()


def test_a_shell_through_a_reloaded_posixsubprocess_stays_confined(ws, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(SECRET)
    monkeypatch.setenv("HOME", str(home))
    target = tmp_path / "from-shell.txt"
    result = attack(f"""
        import importlib.util, sys
        origin = importlib.util.find_spec("_posixsubprocess").origin
        spec = importlib.util.spec_from_file_location("x._posixsubprocess", origin)
        fresh = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fresh)
        sys.modules["_posixsubprocess"] = fresh  # the patched-out fork_exec is back
        import subprocess
        out = subprocess.run(["/bin/sh", "-c", "touch {target}; cat {home}/.ssh/id_rsa"],
                             capture_output=True, text=True)
        print("shell ran", out.returncode, out.stdout, out.stderr)
    """, ws)
    assert SECRET not in result.stdout and not target.exists(), result


def test_ctypes_libc_system_stays_confined(ws, tmp_path):
    target = tmp_path / "from-libc.txt"
    result = attack(f"""
        import ctypes
        libc = ctypes.CDLL(None)
        print("system returned", getattr(libc, "__libc_system")(b"touch {target}"))
    """, ws)
    assert not target.exists(), result


def test_fchmod_and_mkfifo_outside_are_refused(ws, tmp_path):
    ws.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("x")
    victim.chmod(0o644)
    (ws / "inside.txt").write_text("x")
    (ws / "inside.txt").chmod(0o644)
    fifo, sock = tmp_path / "fifo", tmp_path / "sock"
    result = attack(f"""
        import socket
        for path in ({str(victim)!r}, "/run/throughline/source/inside.txt", {str(ws / 'inside.txt')!r}):
            try:
                fd = os.open(path, os.O_RDONLY)
                os.fchmod(fd, 0o777)
                print("CHMOD", path)
            except OSError as exc:
                print("refused", path, exc.errno)
        for make in (lambda: os.mkfifo({str(fifo)!r}),
                     lambda: socket.socket(socket.AF_UNIX).bind({str(sock)!r})):
            try:
                make()
                print("MADE")
            except OSError as exc:
                print("refused", exc.errno)
    """, ws)
    assert victim.stat().st_mode & 0o777 == 0o644 and not fifo.exists() and not sock.exists(), result
    # The real workspace only changes through the copy-out, which never copies modes past 0o755.
    assert (ws / "inside.txt").stat().st_mode & 0o777 != 0o777, result


def test_no_network_by_default(ws):
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.5)
        port = server.getsockname()[1]
        result = attack(f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3).sendall(b"exfiltrated")
                print("CONNECTED")
            except OSError as exc:
                print("refused", exc.errno)
        """, ws)
        with pytest.raises(TimeoutError):
            server.accept()
    assert "CONNECTED" not in result.stdout and "refused" in result.stdout, result


def test_the_network_setting_opens_it(ws):
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(10)
        port = server.getsockname()[1]
        result = run_python(f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5).sendall(b'hi')",
                            workspace=ws, network=True)
        conn, _ = server.accept()
        conn.close()
    assert result.ok, result


def test_the_total_disk_quota_holds_across_files(ws):
    result = attack("""
        chunk = b"x" * (1 << 20)
        written = 0
        try:
            for i in range(200):
                with open("f%03d.bin" % i, "wb") as handle:
                    for _ in range(4):
                        handle.write(chunk)
                        written += 1
        except OSError as exc:
            print("stopped", exc.errno, written)
        print("written MiB", written)
    """, ws, disk_mb=40, max_file_bytes=10_000_000)
    on_disk = sum(p.stat().st_size for p in ws.iterdir() if p.is_file())
    assert "stopped 28" in result.stdout and on_disk <= 42 * (1 << 20), result


def test_the_seccomp_filter_refuses_ptrace_and_keyrings(ws):
    if LAYER == "kernel" and not confinement.confinement().syscalls:
        pytest.skip("libseccomp is not installed: no syscall filter")
    result = attack("""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        print("ptrace", libc.ptrace(0, 0, 0, 0), ctypes.get_errno())
        print("keyctl", libc.syscall(250, 0, -3, 0), ctypes.get_errno())  # x86-64: keyctl(GET_KEYRING_ID)
    """, ws)
    assert "ptrace -1 1" in result.stdout and "keyctl -1 1" in result.stdout, result


def _marked(mark: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and mark.encode() in Path(f"/proc/{entry}/environ").read_bytes():
                found.append(int(entry))
        except OSError:
            continue
    return found


def test_sandboxed_code_dies_with_the_assistant_and_its_temp_dir_is_reaped(ws, tmp_path):
    mark = f"MARK-{uuid.uuid4().hex}"
    script = (f"from tools import run_python, confinement\nconfinement.configure({LAYER!r})\n"
              f"run_python('import os, time\\nif os.fork() == 0: os.setsid()\\ntime.sleep(60)', "
              f"workspace={str(ws)!r}, timeout=60, env={{'MARK': {mark!r}}})\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    assistant = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.monotonic() + 20
    while len(_marked(mark)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _marked(mark), "the sandboxed code never started"
    assistant.kill()
    assistant.wait()
    deadline = time.monotonic() + 5
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _marked(mark) == [], [Path(f"/proc/{p}/stat").read_text()[:80] for p in _marked(mark)]
    leftovers = list(Path(sandbox.tempfile.gettempdir()).glob(f"throughline-run-{assistant.pid}-*"))
    assert leftovers, "the killed assistant left no temp dir to reap"
    sandbox._reaped = False
    sandbox._reap_stale_runs()
    assert not any(p.exists() for p in leftovers)


def test_a_fork_bomb_is_contained(ws):
    result = attack("""
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """, ws, max_processes=8, timeout=15)
    assert result.killed_reason == "processes", result


def test_confinement_is_reported_honestly():
    level = confinement.confinement()
    assert level.describe().startswith("confined by the kernel (filesystem, processes, network")
    assert confinement.resolve("hook")[0].describe().startswith("seatbelt only: audit hook")


def test_kernel_mode_refuses_to_run_without_the_kernel_sandbox(ws, monkeypatch):
    monkeypatch.setattr(confinement, "bwrap_binary", lambda: None)
    confinement.confinement.cache_clear()
    try:
        with pytest.raises(sandbox.SandboxError, match="kernel sandbox is required"):
            run_python("print(1)", workspace=ws, sandbox="kernel")
        with pytest.warns(RuntimeWarning, match="seatbelt only"):
            monkeypatch.setattr(confinement, "_warned", False)
            assert run_python("print(1)", workspace=ws, sandbox="auto").stdout == "1\n"
    finally:
        confinement.confinement.cache_clear()
