"""Servers for the `assistant serve` tests: in-process (uvicorn in a thread, so a test can look at
its scripted model) and as replica subprocesses; plus the suite's real `chroma run` server."""

from __future__ import annotations

import os
import runpy
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
ScriptedChat = runpy.run_path(str(HERE / "scripted.py"))["ScriptedChat"]
_memory_conftest = runpy.run_path(str(HERE.parent / "memory" / "conftest.py"))
stop_chroma_server = _memory_conftest["stop_chroma_server"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None, path: str = "/readyz") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} was not ready within {timeout} s")


@dataclass
class Running:
    url: str
    model: Any
    app: Any
    server: Any
    thread: threading.Thread
    extra: dict = field(default_factory=dict)

    @property
    def state(self) -> Any:
        return self.app.state.server

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def start_server(tmp_path):
    """start_server(model=None, keys=None, **serve_config) -> Running, on 127.0.0.1 in this process."""
    import uvicorn

    from assistant.serve.app import create_app
    from assistant.serve.config import load_serve_config
    from assistant.settings import load_settings

    running: list[Running] = []

    def start(model: Any = None, *, keys: str | None = None, table: dict | None = None,
              memory_url: str | None = None, ready: bool = True, **flags: Any) -> Running:
        model = model if model is not None else ScriptedChat()
        environ = {"ASSISTANT_SERVE_KEYS": keys} if keys else {}
        config = load_serve_config(table, environ, port=free_port(), **flags)
        settings = load_settings(memory_url=memory_url)
        app = create_app(settings, config, chat_model=model)
        server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{config.port}"
        wait_ready(url, path="/readyz" if ready else "/healthz")
        handle = Running(url=url, model=model, app=app, server=server, thread=thread)
        running.append(handle)
        return handle

    yield start
    for handle in running:
        handle.stop()


chroma_server = _memory_conftest["chroma_server"]  # the suite's `chroma run` fixture, also here

def launch_replica(data_dir: Path, memory_url: str | None, env: dict | None = None,
                   **options: Any) -> tuple[subprocess.Popen, str]:
    """A replica in its own process (`replica.py`: `assistant serve` with the scripted model);
    options are replica.py's flags (delay=0.05, long_words=200, queue=64, …). Also used by
    bench/bench_serve.py."""
    port = free_port()
    env = env or {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "PYTHONPATH": str(HERE.parents[1])}
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
    if memory_url:
        flags.append(f"--memory-url={memory_url}")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "replica.py"), "--port", str(port), *flags],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    return proc, f"http://127.0.0.1:{port}"


def await_replica(proc: subprocess.Popen, url: str) -> None:
    """Until `url` is ready; the replica's last stderr in the error if it died first."""
    try:
        wait_ready(url, timeout=180, proc=proc)
    except RuntimeError:
        proc.kill()
        raise RuntimeError(proc.stderr.read().decode(errors="replace")[-2000:]) from None


@pytest.fixture
def replicas(chroma_server, tmp_path):
    """replicas({"a": {...options}, "b": {}}) -> {name: (process, url)}: replicas with their own data
    dirs on the session's Chroma server, started together; stopped at the end of the test."""
    procs: list[subprocess.Popen] = []

    def start(spec: dict[str, dict]) -> dict[str, tuple[subprocess.Popen, str]]:
        started = {name: launch_replica(tmp_path / name, chroma_server, **options) for name, options in spec.items()}
        procs.extend(proc for proc, _ in started.values())
        for proc, url in started.values():
            await_replica(proc, url)
        return started

    yield start
    for proc in procs:
        if proc.poll() is None:
            stop_chroma_server(proc)  # terminate, then kill: any server process
