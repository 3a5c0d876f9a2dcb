"""Fixtures for the memory tests: the real embedder (loaded once), a fast fake one, a real
`chroma run` server (started once, only if a server test runs) and `make_store`, which builds
stores in embedded and in server mode so the core tests run against both."""

from __future__ import annotations

import os
import runpy
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from memory import MemoryStore, default_embedder

FAKES = Path(__file__).with_name("memory_fakes.py")
HashEmbedder = runpy.run_path(str(FAKES))["HashEmbedder"]


@pytest.fixture(scope="session")
def embedder():
    """The real MiniLM embedder, warmed up once for the whole session."""
    shared = default_embedder()
    shared.embed(["warm up"])
    return shared


@pytest.fixture
def fake_embedder():
    return HashEmbedder()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_chroma_server(path: Path) -> tuple[subprocess.Popen, str]:
    """`chroma run` on a free port; returns (process, url) once its heartbeat answers."""
    port = _free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma run exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("chroma run did not answer its heartbeat within 30 s")


def stop_chroma_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    proc, url = start_chroma_server(tmp_path_factory.mktemp("chroma-server"))
    yield url
    stop_chroma_server(proc)


def _wipe_server(url: str) -> None:
    import chromadb
    from chromadb.config import Settings

    host, port = url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port), settings=Settings(anonymized_telemetry=False))
    for collection in client.list_collections():
        client.delete_collection(collection.name)
    client.close()


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def mode(request):
    return request.param


@pytest.fixture
def make_store(mode, request, tmp_path, embedder):
    """make_store(namespace="default", embedder=<real>, fresh=False) -> MemoryStore.

    Embedded stores share tmp_path/"mem" (fresh=True gives a new dir); server stores share the
    session's server, which is wiped after each test."""
    url = request.getfixturevalue("chroma_server") if mode == "server" else None
    stores: list[MemoryStore] = []
    fresh_dirs = iter(range(1, 1000))

    def make(namespace: str = "default", embedder=embedder, fresh: bool = False) -> MemoryStore:
        if url is not None:
            store = MemoryStore(url=url, namespace=namespace, embedder=embedder)
        else:
            path = tmp_path / (f"mem{next(fresh_dirs)}" if fresh else "mem")
            store = MemoryStore(path, namespace=namespace, embedder=embedder)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
    if url is not None:
        _wipe_server(url)


@pytest.fixture
def store(make_store):
    return make_store()


class DisposableServer:
    def __init__(self, path: Path) -> None:
        self.proc, self.url = start_chroma_server(path)

    def stop(self) -> None:
        stop_chroma_server(self.proc)


@pytest.fixture
def disposable_server(tmp_path):
    """A server of this test's own, which the test may stop."""
    server = DisposableServer(tmp_path / "server")
    yield server
    server.stop()
